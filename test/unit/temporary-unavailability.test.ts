import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { DatabaseUnavailableError } from '../../src/db/sql.js';
import { DATABASE_RETRY_AFTER_SECONDS, temporaryUnavailability } from '../../src/http/errors.js';
import { BusyError, ValidationError } from '../../src/services/errors.js';

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('temporaryUnavailability (the one 503 decision every door renders)', () => {
  it('RFC 6749 §5.2 temporarily_unavailable / RFC 9110 §10.2.3: a database outage is a 503 with the outage Retry-After', () => {
    for (const err of [
      new DatabaseUnavailableError('database unavailable'),
      withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
      withCode('terminating connection due to administrator command', '57P01'),
      withCode('sorry, too many clients already', '53300'),
      new Error('Connection terminated unexpectedly'),
    ]) {
      expect(temporaryUnavailability(err), err.message).toEqual({
        cause: 'database',
        retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
      });
    }
  });

  it('RFC 9110 §10.2.3: a full argon2 gate (BusyError) is a 503 carrying the Retry-After the gate chose', () => {
    expect(temporaryUnavailability(new BusyError(7))).toEqual({ cause: 'busy', retryAfterSeconds: 7 });
  });

  it('RFC 9110 §15.6.4: found through GraphQL originalError and Error cause wrappers, as every door sees it', () => {
    const viaGraphql = new GraphQLError('x', { originalError: new BusyError(3) });
    expect(temporaryUnavailability(viaGraphql)?.cause).toBe('busy');
    const viaCause = new Error('query failed', { cause: withCode('read ECONNRESET', 'ECONNRESET') });
    expect(temporaryUnavailability(viaCause)?.cause).toBe('database');
  });

  it('RFC 9110 §15.6.1: anything else is not a 503 (bad SQL, constraint violations, domain errors, non-errors)', () => {
    for (const err of [
      withCode('syntax error at or near "x"', '42601'),
      withCode('duplicate key value violates unique constraint', '23505'),
      new ValidationError('name', 'required'),
      new Error('boom'),
      'ECONNREFUSED',
      null,
      undefined,
    ]) {
      expect(temporaryUnavailability(err), String(err)).toBeUndefined();
    }
  });
});
