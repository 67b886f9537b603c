import { describe, expect, it } from 'vitest';
import { actDepth, mayActPermits } from '../../src/services/token-exchange.js';

describe('token exchange rules without a server (RFC 8693)', () => {
  it('RFC 8693 §4.4: may_act permits exactly the party its sub names', () => {
    expect(mayActPermits({ sub: 'api-client' }, 'api-client')).toBe(true);
    expect(mayActPermits({ sub: 'api-client' }, 'someone-else')).toBe(false);
    for (const malformed of [null, 'api-client', 42, [], { iss: 'x' }, { sub: ['api-client'] }]) {
      expect(mayActPermits(malformed, 'api-client'), JSON.stringify(malformed)).toBe(false);
    }
  });

  it('RFC 8693 §4.1: the depth of an act chain counts every nested actor', () => {
    expect(actDepth({ sub: 'a' })).toBe(1);
    expect(actDepth({ sub: 'a', act: { sub: 'b', act: { sub: 'c' } } })).toBe(3);
  });
});
