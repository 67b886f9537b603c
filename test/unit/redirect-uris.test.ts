import { describe, expect, it } from 'vitest';
import { matchRedirectUri } from '../../src/oauth/redirect-uris.js';

describe('matchRedirectUri', () => {
  it('RFC 6749 §3.1.2.3 / OAuth 2.1 §2.3.1: a registered URI matches by exact string comparison', () => {
    const registered = ['https://app.example/cb', 'com.example.app:/oauth'];
    expect(matchRedirectUri('https://app.example/cb', registered)).toBe(true);
    expect(matchRedirectUri('com.example.app:/oauth', registered)).toBe(true);
  });

  it('OAuth 2.1 §2.3.1 / RFC 9700 §4.1.3: no variance besides the loopback port: case, trailing slash, query, fragment, path, default port, encoding all differ', () => {
    const registered = ['https://app.example/cb'];
    for (const requested of [
      'https://APP.example/cb',
      'https://app.example/CB',
      'https://app.example/cb/',
      'https://app.example/cb?x=1',
      'https://app.example/cb#x',
      'https://app.example/cb/../cb',
      'https://app.example:443/cb',
      'https://app.example/%63b',
      'https://app.example:8443/cb',
      'https://app.example.evil.example/cb',
      'http://app.example/cb',
      ' https://app.example/cb',
    ]) {
      expect(matchRedirectUri(requested, registered), requested).toBe(false);
    }
  });

  it('RFC 8252 §7.3: an http loopback redirect URI matches with any port, the registered one having a port or none', () => {
    expect(matchRedirectUri('http://127.0.0.1:51234/cb', ['http://127.0.0.1/cb'])).toBe(true);
    expect(matchRedirectUri('http://127.0.0.1/cb', ['http://127.0.0.1:8080/cb'])).toBe(true);
    expect(matchRedirectUri('http://127.0.0.1:1/cb', ['http://127.0.0.1:8080/cb'])).toBe(true);
    expect(matchRedirectUri('http://[::1]:61000/cb', ['http://[::1]/cb'])).toBe(true);
    expect(matchRedirectUri('http://localhost:3000/cb', ['http://localhost/cb'])).toBe(true);
  });

  it('RFC 8252 §7.3: only the port varies on loopback: path, query, host, and scheme must still match exactly', () => {
    const registered = ['http://127.0.0.1/cb'];
    for (const requested of [
      'http://127.0.0.1:5000/other',
      'http://127.0.0.1:5000/cb/',
      'http://127.0.0.1:5000/cb?x=1',
      'http://[::1]:5000/cb',
      'http://localhost:5000/cb',
      'https://127.0.0.1:5000/cb',
      'http://127.0.0.2:5000/cb',
      'http://127.0.0.1.evil.example:5000/cb',
      'http://user@127.0.0.1:5000/cb',
    ]) {
      expect(matchRedirectUri(requested, registered), requested).toBe(false);
    }
  });

  it('RFC 8252 §7.3 applies to loopback only: a non-loopback http or https URI does not get port variance', () => {
    expect(matchRedirectUri('https://app.example:8443/cb', ['https://app.example/cb'])).toBe(false);
    expect(matchRedirectUri('https://127.0.0.1:8443/cb', ['https://127.0.0.1/cb'])).toBe(false);
    expect(matchRedirectUri('http://example.com:81/cb', ['http://example.com/cb'])).toBe(false);
  });

  it('RFC 6749 §3.1.2.3: nothing matches an empty registration, and unparseable input is simply no match', () => {
    expect(matchRedirectUri('https://app.example/cb', [])).toBe(false);
    expect(matchRedirectUri('http://[::1', ['http://[::1]/cb'])).toBe(false);
    expect(matchRedirectUri('', ['https://app.example/cb'])).toBe(false);
  });
});
