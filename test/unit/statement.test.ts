import { describe, expect, it } from 'vitest';
import { statement } from '../../src/db/tables/statement.js';

describe('statement(): named SQL parameters, numbered once at load', () => {
  it('Issue 14 (no positional contracts across modules): names become $n in order of first use; a name used twice is one parameter; ::casts stay', () => {
    const s = statement(
      ['b', 'a'],
      'select :a::uuid, :b, x::text from t where y = :a and z = make_interval(secs => :b)',
    );
    expect(s.text).toBe('select $1::uuid, $2, x::text from t where y = $1 and z = make_interval(secs => $2)');
    expect(s.values({ a: 'A', b: 2 })).toEqual(['A', 2]);
  });

  it('Issue 14: a fragment whose parameters drift from the declaration fails at load, not at request time', () => {
    expect(() => statement(['a'], 'select :a, :b')).toThrow(/:b is not declared/);
    expect(() => statement(['a', 'b'], 'select :a')).toThrow(/:b is declared but not used/);
  });
});
