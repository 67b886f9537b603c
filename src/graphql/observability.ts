import type { ApolloServerPlugin } from '@apollo/server';
import { recordGraphqlOperation } from '../observability/metrics.js';
import type { GqlContext } from './context.js';

const CODE = /^[A-Z][A-Z_]{0,39}$/;

/**
 * Counts every GraphQL operation by name, type and first error code (`none` when it succeeded),
 * and hands the code to the access log. Codes are the server's own (`extensions.code`); anything
 * else is `OTHER`, so a label never carries a message.
 */
export function operationMetrics(): ApolloServerPlugin<GqlContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ operationName, operation, response, contextValue }) {
          // The errors as the client sees them, after formatError gave each its code.
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          const raw = errors?.[0]?.extensions?.code;
          const code = errors?.length ? (typeof raw === 'string' && CODE.test(raw) ? raw : 'OTHER') : 'none';
          if (code !== 'none' && contextValue?.ctx) contextValue.ctx.errorCode = code;
          recordGraphqlOperation(operationName, operation?.operation ?? 'unparsed', code);
        },
      };
    },
  };
}
