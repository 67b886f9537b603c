import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import {
  AuthorizationPageError,
  AuthorizationRedirectError,
  type AuthorizationRequest,
  checkAuthorizationRequest,
  redirectWith,
} from '../../src/oauth/authorization-request.js';
import { parseParams } from '../../src/oauth/params.js';
import { s256 } from '../../src/oauth/pkce.js';
import type { ClientRecord } from '../../src/services/client-cache.js';
import { clientRecord } from './fixtures.js';

const config = loadConfig({});
const CHALLENGE = s256('v'.repeat(50));
const web = clientRecord({ redirectUris: ['https://app.example/cb'] });
const spa = clientRecord({
  clientId: 'spa',
  clientType: 'public',
  tokenEndpointAuthMethod: 'none',
  redirectUris: ['https://spa.example/cb', 'http://127.0.0.1/cb'],
});
const implicit = clientRecord({ clientId: 'imp', clientType: 'public', grantTypes: ['implicit'] });

const base = { response_type: 'code', client_id: 'web-client', scope: 'read', state: 'st' };

function check(query: Record<string, string>, client: ClientRecord | null = web): AuthorizationRequest {
  return checkAuthorizationRequest(parseParams(new URLSearchParams(query).toString()), client, config);
}

function pageError(query: Record<string, string>, client: ClientRecord | null = web): AuthorizationPageError {
  try {
    check(query, client);
  } catch (err) {
    expect(err).toBeInstanceOf(AuthorizationPageError);
    return err as AuthorizationPageError;
  }
  throw new Error('expected an AuthorizationPageError');
}

function redirectError(
  query: Record<string, string>,
  client: ClientRecord = web,
): AuthorizationRedirectError {
  try {
    check(query, client);
  } catch (err) {
    expect(err).toBeInstanceOf(AuthorizationRedirectError);
    return err as AuthorizationRedirectError;
  }
  throw new Error('expected an AuthorizationRedirectError');
}

describe('checkAuthorizationRequest (the pure part of the authorization endpoint)', () => {
  it('RFC 6749 §4.1.1: a complete code request is accepted as sent: client, redirect URI, scopes, state, query mode', () => {
    const request = check({ ...base, redirect_uri: 'https://app.example/cb', scope: 'read write' });
    expect(request.client).toBe(web);
    expect(request.responseType).toBe('code');
    expect(request.scopes).toEqual(['read', 'write']);
    expect(request.target).toEqual({
      redirectUri: 'https://app.example/cb',
      responseMode: 'query',
      state: 'st',
    });
    expect(request.redirectUriSent).toBe('https://app.example/cb');
    expect(request.pkce).toBeNull();
  });

  it('RFC 6749 §3.1.2.3: without redirect_uri the only registered one is used (and recorded as not sent)', () => {
    const request = check(base);
    expect(request.target.redirectUri).toBe('https://app.example/cb');
    expect(request.redirectUriSent).toBeNull();
  });

  it('RFC 6749 §4.1.2.1: a missing or unknown client is a page, never a redirect', () => {
    const { client_id: _omit, ...noClient } = base;
    expect(pageError(noClient).title).toBe('Missing client_id');
    expect(pageError(base, null).title).toBe('Unknown application');
  });

  it('RFC 6749 §4.1.2.1 / §3.1.2.4: an unregistered redirect URI, or none with several registered, is a page, never a redirect', () => {
    expect(pageError({ ...base, redirect_uri: 'https://evil.example/cb' }).title).toBe(
      'Redirect URI not registered',
    );
    expect(pageError({ ...base, client_id: 'spa' }, spa).title).toBe('Missing redirect URI');
  });

  it('RFC 8252 §7.3: a loopback redirect URI with another port is accepted and kept as sent', () => {
    const request = check(
      {
        ...base,
        client_id: 'spa',
        redirect_uri: 'http://127.0.0.1:49152/cb',
        code_challenge: CHALLENGE,
        code_challenge_method: 'S256',
      },
      spa,
    );
    expect(request.target.redirectUri).toBe('http://127.0.0.1:49152/cb');
  });

  it('RFC 6749 §4.1.2.1: once client and redirect URI are good, errors go back to the client with state', () => {
    const error = redirectError({ ...base, response_type: 'id_token' });
    expect(error.reason.error).toBe('unsupported_response_type');
    expect(error.target).toEqual({
      redirectUri: 'https://app.example/cb',
      responseMode: 'query',
      state: 'st',
    });
    const { response_type: _omit, ...noType } = base;
    expect(redirectError(noType).reason.error).toBe('invalid_request');
  });

  it('RFC 6749 §4.1.2.1 unauthorized_client: a response type the application may not use', () => {
    expect(redirectError({ ...base, response_type: 'token' }).reason.error).toBe('unauthorized_client');
    expect(redirectError({ ...base, client_id: 'imp' }, implicit).reason.error).toBe('unauthorized_client');
  });

  it('RFC 6749 §3.3 / §4.1.2.1: a scope the application may not request is invalid_scope, redirected', () => {
    expect(redirectError({ ...base, scope: 'email' }).reason.error).toBe('invalid_scope');
  });

  it('OAuth 2.1 §4.1.1 / RFC 9700 §2.1.1: a public client must send an S256 code_challenge', () => {
    const query = { ...base, client_id: 'spa', redirect_uri: 'https://spa.example/cb' };
    expect(redirectError(query, spa).reason.error).toBe('invalid_request');
    expect(redirectError({ ...query, code_challenge: 'v'.repeat(50) }, spa).reason.error).toBe(
      'invalid_request',
    );
    expect(check({ ...query, code_challenge: CHALLENGE, code_challenge_method: 'S256' }, spa).pkce).toEqual({
      challenge: CHALLENGE,
      method: 'S256',
    });
  });

  it('OAuth 2.0 Multiple Response Types §2: the implicit flow answers in the fragment; response_mode=query is refused for it', () => {
    const query = {
      ...base,
      client_id: 'imp',
      response_type: 'token',
      redirect_uri: 'https://app.example/cb',
    };
    expect(check(query, implicit).target.responseMode).toBe('fragment');
    const error = redirectError({ ...query, response_mode: 'query' }, implicit);
    expect(error.reason.error).toBe('invalid_request');
    expect(error.target.responseMode).toBe('fragment');
    expect(redirectError({ ...base, response_mode: 'form_post' }).reason.error).toBe('invalid_request');
    expect(check({ ...base, response_mode: 'fragment' }).target.responseMode).toBe('fragment');
  });

  it('OIDC Core §3.2.2.1: an implicit openid request needs a nonce; nonce and state have length limits', () => {
    const implicitOidc = clientRecord({
      clientId: 'imp',
      clientType: 'public',
      grantTypes: ['implicit'],
      scopes: ['openid'],
    });
    const query = { ...base, client_id: 'imp', response_type: 'token', scope: 'openid' };
    expect(redirectError(query, implicitOidc).reason.error).toBe('invalid_request');
    expect(check({ ...query, nonce: 'n-1' }, implicitOidc).nonce).toBe('n-1');
    expect(redirectError({ ...base, nonce: 'n'.repeat(513) }).reason.error).toBe('invalid_request');
    expect(redirectError({ ...base, state: 's'.repeat(2049) }).reason.error).toBe('invalid_request');
  });

  it('OIDC Core §3.1.2.1: prompt is none, login and/or consent, none alone; max_age is a non-negative integer', () => {
    expect([...check({ ...base, prompt: 'login consent' }).prompt]).toEqual(['login', 'consent']);
    expect(redirectError({ ...base, prompt: 'none login' }).reason.error).toBe('invalid_request');
    expect(redirectError({ ...base, prompt: 'select_account' }).reason.error).toBe('invalid_request');
    expect(check({ ...base, max_age: '0' }).maxAge).toBe(0);
    for (const maxAge of ['-1', '1.5', '1e3', '9999999999'])
      expect(redirectError({ ...base, max_age: maxAge }).reason.error, maxAge).toBe('invalid_request');
  });

  it('OIDC Core §6.1 / §6.2: request objects and request_uri are refused with their own error codes', () => {
    expect(redirectError({ ...base, request: 'eyJ.x.y' }).reason.error).toBe('request_not_supported');
    expect(redirectError({ ...base, request_uri: 'https://x.example/r' }).reason.error).toBe(
      'request_uri_not_supported',
    );
  });
});

describe('redirectWith', () => {
  it('RFC 6749 §4.1.2 / RFC 9207 §2: the answer is added to the query (kept) with state and iss', () => {
    const url = redirectWith(
      { redirectUri: 'https://app.example/cb?x=1', responseMode: 'query', state: 's t' },
      { code: 'abc', skipped: undefined },
      'https://id.example',
    );
    expect(url).toBe('https://app.example/cb?x=1&code=abc&state=s+t&iss=https%3A%2F%2Fid.example');
  });

  it('RFC 6749 §4.2.2: in fragment mode the answer replaces any fragment', () => {
    const url = redirectWith(
      { redirectUri: 'https://app.example/cb#old', responseMode: 'fragment' },
      { access_token: 't' },
      'https://id.example',
    );
    expect(url).toBe('https://app.example/cb#access_token=t&iss=https%3A%2F%2Fid.example');
  });
});
