import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  allClients,
  applyEdits,
  Client,
  checkCommon,
  cleanArb,
  clients,
  editsArb,
  extraHeaders,
  FORM,
  formBody,
  formType,
  fx,
  headerSafe,
  hostile,
  junkSegmentsArb,
  looksLeaky,
  must,
  optional,
  P,
  Param,
  PKCE,
  pick,
  pools,
  REDIRECTS,
  Req,
  RUNS,
  rarely,
  refusedByNode,
  remember,
  runs,
  scopeArb,
  send,
  server,
  settings,
  setUpFuzzServer,
  startProperty,
  suiteTitle,
  tokenish,
  urlSafe,
  WriteGuard,
} from './helpers.js';

// Property-based fuzzing of the authorization endpoint: GET/POST /o/authorize/, logged in and anonymous: pages, redirects only to registered URIs, no CORS.
// Fixtures, transport, oracles and generators: ./helpers.ts, whose header says what must hold
// for every request and how FUZZ_SEED, FUZZ_SCALE, FUZZ_STATS and FUZZ_SHRINK work.

setUpFuzzServer();

describe(suiteTitle('the authorization endpoint'), () => {
  it(`GET/POST /o/authorize/, logged in and anonymous (${runs(RUNS.authorize)} runs): never a 5xx or a stack trace; errors are pages or redirects to a registered URI only; no CORS headers; only an issued code or token writes`, async () => {
    const guard = new WriteGuard();
    startProperty();
    const registered = () => allClients().flatMap((c) => c.redirects);
    const redirectArb = fc
      .tuple(
        fc.nat(),
        fc.constantFrom(
          'own',
          'own',
          'own',
          'other',
          'port',
          'slash',
          'upper',
          'query',
          'fragment',
          'evil',
          'js',
          'junk',
          'absent',
        ),
      )
      .map(([i, how]) => ({ i, how }));
    const arb = fc.record({
      clean: cleanArb,
      kind: fc.oneof(
        { weight: 6, arbitrary: fc.constant<'request' | 'consent'>('request') },
        { weight: 1, arbitrary: fc.constant<'request' | 'consent'>('consent') },
      ),
      method: fc.oneof(
        { weight: 14, arbitrary: fc.constant('GET') },
        { weight: 6, arbitrary: fc.constant('POST') },
        { weight: 1, arbitrary: fc.constantFrom('PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH') },
      ),
      session: fc.constantFrom('alice', 'alice', 'alice', 'none', 'none', 'junk'),
      client: fc.oneof(
        { weight: 8, arbitrary: fc.nat().map((i) => pick(allClients(), i)) },
        {
          weight: 1,
          arbitrary: hostile.map(
            (s) => ({ clientId: s, redirects: [] as string[] }) as Pick<Client, 'clientId' | 'redirects'>,
          ),
        },
      ),
      redirect: redirectArb,
      responseType: fc.oneof(
        { weight: 8, arbitrary: fc.constant('code') },
        { weight: 2, arbitrary: fc.constant('token') },
        { weight: 2, arbitrary: fc.constantFrom('id_token', 'code token', 'CODE', 'none', null) },
        { weight: 1, arbitrary: hostile },
      ),
      scope: fc.option(scopeArb, { freq: 5 }),
      state: fc.option(fc.oneof(fc.constant('xyz'), hostile, fc.constant('s'.repeat(3000))), { freq: 2 }),
      pkce: fc.oneof(
        {
          weight: 6,
          arbitrary: fc
            .nat()
            .map((i) => ({ challenge: pick(PKCE, i).challenge, method: 'S256' as string | null })),
        },
        { weight: 2, arbitrary: fc.constant(null) },
        {
          weight: 1,
          arbitrary: fc.record({
            challenge: hostile,
            method: fc.option(fc.constantFrom('S256', 'plain', 's256', 'RS256', '')),
          }),
        },
        {
          weight: 1,
          arbitrary: fc.constant({ challenge: 'a'.repeat(43), method: 'plain' as string | null }),
        },
      ),
      nonce: rarely(fc.oneof(fc.constant('n-0S6_WzA2Mj'), hostile, fc.constant('n'.repeat(600))), 3),
      prompt: rarely(
        fc.oneof(
          fc.constantFrom('none', 'login', 'consent', 'none login', 'login consent', 'select_account'),
          hostile,
        ),
        4,
      ),
      maxAge: rarely(fc.oneof(fc.constantFrom('0', '5', '-1', '1e3', '9999999999', '86400'), hostile), 6),
      more: fc.array(
        fc.tuple(
          fc.constantFrom(
            'login_hint',
            'response_mode',
            'request',
            'request_uri',
            'claims',
            'ui_locales',
            'id_token_hint',
            'display',
          ),
          tokenish,
        ),
        { maxLength: 2 },
      ),
      consent: fc.record({
        request: fc.constantFrom('real', 'real', 'tampered', 'truncated', 'junk', 'absent'),
        csrf: fc.constantFrom('real', 'real', 'junk', 'absent'),
        allow: fc.oneof(fc.constantFrom('Allow', 'Allow', '', null), hostile),
        junk: hostile,
      }),
      edits: editsArb,
      junk: junkSegmentsArb,
      type: formType,
      extra: extraHeaders,
    });
    await fc.assert(
      fc.asyncProperty(arb, async (generated) => {
        // A clean run: alice, a client that uses the authorization endpoint, its own redirect URI,
        // PKCE, and no edits; or the untouched consent form with Allow.
        const interactive = [clients.skip, clients.pub, clients.native, clients.web, clients.imp];
        const cleanClient = pick(interactive, generated.redirect.i);
        const { 'content-encoding': _, ...cleanExtra } = generated.extra;
        const a: typeof generated = generated.clean
          ? {
              ...generated,
              method: generated.method === 'POST' ? 'POST' : 'GET',
              session: 'alice',
              client: cleanClient,
              redirect: { ...generated.redirect, how: 'own' },
              responseType: cleanClient === clients.imp ? 'token' : 'code',
              scope: null,
              state: 'xyz',
              pkce: { challenge: pick(PKCE, generated.redirect.i).challenge, method: 'S256' },
              nonce: 'n-0S6_WzA2Mj',
              prompt: null,
              maxAge: null,
              more: [],
              consent: { ...generated.consent, request: 'real', csrf: 'real', allow: 'Allow' },
              edits: [],
              junk: [],
              type: FORM,
              extra: cleanExtra,
            }
          : generated;
        let params: Param[];
        if (a.kind === 'consent') {
          const real = fx.consent.request;
          const request = {
            real,
            tampered: real.replace(/^(.)/, (c) => (c === 'e' ? 'f' : 'e')),
            truncated: real.slice(0, -5),
            junk: a.consent.junk,
            absent: null,
          }[a.consent.request];
          params = [
            ...optional('consent_request', request ?? null),
            ...optional(
              'csrf_token',
              a.consent.csrf === 'real' ? fx.consent.csrf : a.consent.csrf === 'junk' ? a.consent.junk : null,
            ),
            ...optional('allow', a.consent.allow),
          ];
        } else {
          const own = a.client.redirects.length ? pick(a.client.redirects, a.redirect.i) : REDIRECTS.web;
          const redirect = {
            own,
            other: pick(registered(), a.redirect.i),
            port: own.replace('127.0.0.1', `127.0.0.1:${1024 + (a.redirect.i % 60000)}`),
            slash: `${own}/`,
            upper: own.toUpperCase(),
            query: `${own}?x=1`,
            fragment: `${own}#f`,
            evil: 'https://evil.example/cb',
            js: 'javascript:alert(document.domain)',
            junk: a.consent.junk,
            absent: null,
          }[a.redirect.how];
          params = [
            ...optional('response_type', a.responseType),
            P('client_id', a.client.clientId),
            ...optional('redirect_uri', redirect),
            ...optional('scope', a.scope),
            ...optional('state', a.state),
            ...(a.pkce
              ? [P('code_challenge', a.pkce.challenge), ...optional('code_challenge_method', a.pkce.method)]
              : []),
            ...optional('nonce', a.nonce),
            ...optional('prompt', a.prompt),
            ...optional('max_age', a.maxAge),
            ...a.more.map(([n, v]) => P(n, v)),
          ];
        }
        params = applyEdits(params, a.edits);
        const headers: Record<string, string | string[]> = { ...a.extra };
        if (a.session === 'alice') headers.cookie = fx.aliceCookie;
        if (a.session === 'junk') headers.cookie = headerSafe(`${fx.sessionCookieName}=${a.consent.junk}`);
        const body = formBody(params, a.junk);
        const method = a.kind === 'consent' && a.method === 'GET' ? 'POST' : a.method;
        const req: Req =
          method === 'POST'
            ? {
                method,
                path: '/o/authorize/',
                headers: a.type === undefined ? headers : { ...headers, 'content-type': a.type },
                body,
              }
            : { method, path: `/o/authorize/?${urlSafe(body)}`, headers };
        fc.pre(!looksLeaky(req));
        await guard.before();
        const res = await send(req);
        checkCommon(req, res);
        for (const name of Object.keys(res.headers)) {
          must(!name.startsWith('access-control-'), '/o/authorize/ never sends CORS headers', req, res);
        }
        if (
          res.status >= 400 &&
          !refusedByNode(res) &&
          method !== 'HEAD' &&
          ['GET', 'POST'].includes(method)
        ) {
          must(
            /^text\/html\b/.test(res.type),
            'an authorization error that cannot be redirected is an HTML page',
            req,
            res,
          );
        }
        const location = String(res.headers.location ?? '');
        let issued = false;
        if (res.status >= 300 && res.status < 400) {
          must(location, 'a redirect has a Location', req, res);
          if (!location.startsWith('/accounts/login/')) {
            const target = new URL(location);
            const bare = `${target.origin}${target.pathname}`;
            const allowed = registered().some(
              (r) =>
                bare === r ||
                (r.startsWith('http://127.0.0.1/') &&
                  bare.replace(/^http:\/\/127\.0\.0\.1:\d+\//, 'http://127.0.0.1/') === r),
            );
            must(
              allowed,
              'RFC 6749 §4.1.2.1: the authorization endpoint redirects only to a registered redirect URI',
              req,
              res,
            );
            const answer = new URLSearchParams(target.hash ? target.hash.slice(1) : target.search);
            must(
              answer.get('iss') === server.runtime.config.issuer,
              'RFC 9207: the authorization response carries iss',
              req,
              res,
            );
            issued = answer.has('code') || answer.has('access_token');
            const code = answer.get('code');
            const challenge = params.find((p) => p.n === 'code_challenge')?.v;
            const pair = PKCE.find((p) => p.challenge === challenge);
            const clientId = params.find((p) => p.n === 'client_id')?.v;
            const client = allClients().find((c) => c.clientId === clientId);
            if (code && client)
              remember(pools.codes, {
                value: code,
                client,
                redirect: params.find((p) => p.n === 'redirect_uri')?.v ?? null,
                verifier: pair?.verifier ?? null,
              });
            const implicitToken = answer.get('access_token');
            if (implicitToken && client) remember(pools.access, { value: implicitToken, client });
          }
        }
        await guard.after(req, res, !issued);
      }),
      settings(3, RUNS.authorize),
    );
  }, 120_000);
});
