import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { describe, type TemporaryUnavailability, temporaryUnavailability } from '../http/errors.js';
import type { Logger } from '../log.js';
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnauthenticatedError,
  ValidationError,
} from '../services/errors.js';

/** Codes whose messages come from GraphQL itself (parsing, validation, coercion) and are safe once scrubbed. */
const PROTOCOL_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'UNAUTHENTICATED',
  'SERVICE_UNAVAILABLE',
]);

const UNAVAILABLE_MESSAGE = 'The service is temporarily unavailable.';

/**
 * The error for a request refused before execution (the context could not be built): Apollo
 * sends its `http` status and headers, so it is a 503 with Retry-After like every other door.
 */
export function serviceUnavailable(unavailable: TemporaryUnavailability): GraphQLError {
  return new GraphQLError(UNAVAILABLE_MESSAGE, {
    extensions: {
      code: 'SERVICE_UNAVAILABLE',
      http: { status: 503, headers: new Map([['retry-after', String(unavailable.retryAfterSeconds)]]) },
    },
  });
}

/**
 * A resolver that meets an outage or a full argon2 gate: the response is a 503 with Retry-After,
 * as on every other door (Apollo would answer 200 with the error in the body).
 */
export function unavailableStatus(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ errors, response }) {
          if (!errors) return;
          for (const error of errors) {
            const unavailable = temporaryUnavailability(unwrapResolverError(error));
            if (unavailable) {
              response.http.status = 503;
              response.http.headers.set('retry-after', String(unavailable.retryAfterSeconds));
              return;
            }
          }
        },
      };
    },
  };
}

/**
 * Every GraphQL error the client sees: domain errors by `extensions.code` (BAD_USER_INPUT carries
 * the first `field` and `fields`, every invalid field with its message); GraphQL's own errors with input values removed (a password must not come
 * back); database and unexpected errors as a generic message, logged here. Never a stack trace.
 */
export function formatError(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const base = { locations: formatted.locations, path: formatted.path };
    if (original instanceof ValidationError) {
      return {
        ...base,
        message: original.message,
        extensions: {
          code: 'BAD_USER_INPUT',
          field: original.field,
          fields: original.issues.map((i) => ({ field: i.field, message: i.message })),
        },
      };
    }
    if (original instanceof NotFoundError)
      return { ...base, message: original.message, extensions: { code: 'NOT_FOUND' } };
    if (original instanceof ConflictError)
      return { ...base, message: original.message, extensions: { code: 'CONFLICT' } };
    if (original instanceof ForbiddenError)
      return { ...base, message: original.message, extensions: { code: 'FORBIDDEN' } };
    if (original instanceof UnauthenticatedError) {
      return { ...base, message: original.message, extensions: { code: 'UNAUTHENTICATED' } };
    }
    if (temporaryUnavailability(original)) {
      return { ...base, message: UNAVAILABLE_MESSAGE, extensions: { code: 'SERVICE_UNAVAILABLE' } };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && PROTOCOL_CODES.has(code)) {
      return { ...base, message: scrub(formatted.message), extensions: { code } };
    }
    // Errors graphql-js raises itself (variable coercion and the like) carry no original error.
    if (
      original instanceof GraphQLError &&
      (!original.originalError || original.originalError instanceof GraphQLError)
    ) {
      return { ...base, message: scrub(formatted.message), extensions: { code: 'BAD_USER_INPUT' } };
    }
    log.error({ err: describe(original) }, 'graphql error');
    return { ...base, message: 'Internal server error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}

/** GraphQL's coercion messages quote the rejected value ("got invalid value …"); drop it. */
export function scrub(message: string): string {
  return message
    .replace(/got invalid value [\s\S]*?(;| at "| at \$|$)/g, 'got an invalid value$1')
    .replace(/(cannot represent[^:]*:) [\s\S]*$/i, '$1 (value not shown)')
    .replace(/Expected value of type "([^"]+)", found [\s\S]*?;/g, 'Unexpected value for type "$1";');
}
