import { describe, expect, it } from 'vitest';
import { decodeBasic } from '../../src/oauth/client-auth.js';
import { oauthErrorOf } from './fixtures.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const form = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');

describe('decodeBasic (client_secret_basic)', () => {
  it('RFC 6749 §2.3.1 / RFC 7617 §2: base64 of client_id ":" client_secret decodes to both', () => {
    expect(decodeBasic(b64('my-client:s3cret'))).toEqual({ clientId: 'my-client', secret: 's3cret' });
  });

  it('RFC 6749 §2.3.1: id and secret are form-urlencoded first (Appendix B), so ":" "+" "%" and spaces survive', () => {
    const clientId = 'client:with+odd %chars';
    const secret = 'se:cr+et %25 é';
    expect(decodeBasic(b64(`${form(clientId)}:${form(secret)}`))).toEqual({ clientId, secret });
  });

  it('RFC 7617 §2: only the first colon separates; later colons belong to the secret', () => {
    expect(decodeBasic(b64('id:a:b:c'))).toEqual({ clientId: 'id', secret: 'a:b:c' });
  });

  it('RFC 7617 §2: an empty secret decodes as empty (the caller decides whether it authenticates)', () => {
    expect(decodeBasic(b64('id:'))).toEqual({ clientId: 'id', secret: '' });
  });

  it('RFC 6749 §2.3.1 / §5.2: malformed credentials are invalid_request: no colon, empty id, bad base64, bad percent-encoding, NUL, oversize', () => {
    for (const encoded of [
      b64('no-colon'),
      b64(':secret'),
      '',
      'not base64!',
      'YWJj ZGVm',
      'YWJj=ZGVm',
      b64('id:%zz'),
      b64('%E2%82:secret'),
      b64('id%00:secret'),
      b64('id:sec%00ret'),
      'A'.repeat(2052),
    ]) {
      expect(oauthErrorOf(() => decodeBasic(encoded)).error, encoded.slice(0, 40)).toBe('invalid_request');
    }
  });

  it('RFC 6749 §5.2: the error never echoes the credentials it could not read', () => {
    const error = oauthErrorOf(() => decodeBasic(b64('id:%zz-secret-value')));
    expect(error.description).not.toContain('secret-value');
    expect(error.description).not.toContain('id');
  });
});
