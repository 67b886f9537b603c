import { describe, expect, it } from 'vitest';
import { parseBody, parseParams, scopeParam } from '../../src/oauth/params.js';
import { oauthErrorOf } from './fixtures.js';

const entries = (text: string) => Object.fromEntries(parseParams(text));

describe('parseParams (application/x-www-form-urlencoded, strictly)', () => {
  it('RFC 6749 §3.1 / §3.2: a parameter sent twice is invalid_request, whichever values it has', () => {
    for (const text of ['a=1&a=2', 'a=1&a=1', 'scope=read&x=y&scope=write', 'a=1&%61=2']) {
      expect(oauthErrorOf(() => parseParams(text)).error, text).toBe('invalid_request');
    }
  });

  it('RFC 6749 §3.1: a parameter sent without a value is treated as omitted (and so may appear again with one)', () => {
    expect(entries('a=&b=2')).toEqual({ b: '2' });
    expect(entries('a&b=2')).toEqual({ b: '2' });
    expect(entries('a=&a=1')).toEqual({ a: '1' });
    expect(entries('a=1&a=')).toEqual({ a: '1' });
    expect(entries('')).toEqual({});
    expect(entries('&&a=1&')).toEqual({ a: '1' });
  });

  it('RFC 6749 Appendix B: names and values are percent-decoded, "+" is a space, "=" in a value is kept', () => {
    expect(entries('redirect_uri=https%3A%2F%2Fa.example%2Fcb%3Fx%3D1&scope=read+write')).toEqual({
      redirect_uri: 'https://a.example/cb?x=1',
      scope: 'read write',
    });
    expect(entries('state=a%2Bb&x=c=d')).toEqual({ state: 'a+b', x: 'c=d' });
    expect(entries('n%C3%A4me=v%C3%A4lue')).toEqual({ näme: 'välue' });
  });

  it('RFC 6749 Appendix B / RFC 3986 §2.1: malformed percent-encoding is invalid_request, not passed along', () => {
    for (const text of ['a=%', 'a=%zz', 'a=%C3', '%=1', 'a=%E2%82']) {
      expect(oauthErrorOf(() => parseParams(text)).error, text).toBe('invalid_request');
    }
  });

  it('RFC 6749 §5.2 invalid_request: a NUL in a name or value is refused', () => {
    expect(oauthErrorOf(() => parseParams('a=x%00y')).error).toBe('invalid_request');
    expect(oauthErrorOf(() => parseParams('a%00=1')).error).toBe('invalid_request');
  });

  it('RFC 6749 §5.2 invalid_request: more than 100 parameters are refused; the echoed name is clipped and free of control characters', () => {
    const many = Array.from({ length: 101 }, (_, i) => `p${i}=1`).join('&');
    expect(oauthErrorOf(() => parseParams(many)).error).toBe('invalid_request');
    expect(parseParams(Array.from({ length: 100 }, (_, i) => `p${i}=1`).join('&')).size).toBe(100);
    const long = `${'x'.repeat(60)}%0A`;
    const described = oauthErrorOf(() => parseParams(`${long}=1&${long}=2`)).description;
    expect(described).not.toMatch(/\n/);
    expect(described.length).toBeLessThan(90);
  });

  it('RFC 6749 Appendix B (UTF-8): a body that is not valid UTF-8 is invalid_request', () => {
    expect(oauthErrorOf(() => parseBody(Buffer.from([0x61, 0x3d, 0xff]))).error).toBe('invalid_request');
    expect(Object.fromEntries(parseBody(Buffer.from('a=%C3%A9&b=é')))).toEqual({ a: 'é', b: 'é' });
  });
});

describe('scopeParam', () => {
  const scopes = (text: string) => scopeParam(parseParams(text));

  it('RFC 6749 §3.3: the scope is a space-delimited list; repeats and extra spaces collapse, order is kept', () => {
    expect(scopes('scope=read+write')).toEqual(['read', 'write']);
    expect(scopes('scope=%20read%20%20write%20read%20')).toEqual(['read', 'write']);
  });

  it('RFC 6749 §3.3: no scope, or only spaces, is "absent" (the default applies)', () => {
    expect(scopes('a=1')).toBeUndefined();
    expect(scopes('scope=')).toBeUndefined();
    expect(scopes('scope=%20%20')).toBeUndefined();
  });

  it('RFC 6749 §3.3: a scope token outside %x21 / %x23-5B / %x5D-7E is invalid_scope', () => {
    for (const text of ['scope=re%22ad', 'scope=read%5C', 'scope=r%C3%A9ad', 'scope=read%09write']) {
      expect(oauthErrorOf(() => scopes(text)).error, text).toBe('invalid_scope');
    }
  });
});
