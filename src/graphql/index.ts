import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import { moduleLog } from '../log.js';
import type { Runtime } from '../services/context.js';
import { createContext, type GqlContext } from './context.js';
import { formatError, unavailableStatus } from './errors.js';
import { complexityLimit, depthLimit, fieldLimit, introspectionLimit, roundTripLimit } from './limits.js';
import { operationMetrics } from './observability.js';
import { getSchema } from './schema.js';

export interface GraphqlDoor {
  router: Router;
  stop(): Promise<void>;
}

/**
 * POST /graphql (and GET with a `query`): Apollo Server with the code-first schema. CSRF
 * prevention stays on (the session cookie authenticates), batching is off, depth, field count
 * and cost are limited, the body is limited, introspection follows GRAPHQL_INTROSPECTION. A GET without a
 * query falls through to the playground page.
 */
export async function graphqlDoor(runtime: Runtime): Promise<GraphqlDoor> {
  const { config, log } = runtime;
  const schema = getSchema();
  const apollo = new ApolloServer<GqlContext>({
    schema,
    introspection: config.graphql.introspection,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    stopOnTerminationSignals: false,
    formatError: formatError(moduleLog(log, 'graphql')),
    validationRules: [
      depthLimit(config.graphql.maxDepth),
      fieldLimit(config.graphql.maxFields),
      roundTripLimit(config.graphql.maxRoundTrips),
      introspectionLimit(),
    ],
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      complexityLimit(schema, config.graphql.maxCost),
      unavailableStatus(),
      operationMetrics(),
    ],
  });
  await apollo.start();
  const middleware = expressMiddleware(apollo, { context: async ({ req }) => createContext(req) });

  const router = Router();
  router.get('/graphql', (req, res, next) => {
    if (req.query.query === undefined) {
      next(); // the playground page
      return;
    }
    res.set('Cache-Control', 'no-store');
    req.body ??= {};
    middleware(req, res, next);
  });
  router.post(
    '/graphql',
    express.json({
      limit: config.bodyLimitBytes,
      type: ['application/json', 'application/graphql-response+json'],
    }),
    (req, res, next) => {
      res.set('Cache-Control', 'no-store');
      // Apollo checks Accept only when it writes the result; a mutation must not run first.
      if (!req.accepts(['application/graphql-response+json', 'application/json'])) {
        res.status(406).json({
          errors: [{ message: 'Accept must allow application/json.', extensions: { code: 'BAD_REQUEST' } }],
        });
        return;
      }
      middleware(req, res, next);
    },
  );
  router.use('/graphql', bodyErrors);
  return { router, stop: () => apollo.stop() };
}

/** A body the JSON parser refused (too large, not JSON): a GraphQL-shaped error, not a page. */
function bodyErrors(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status !== 'number' || status >= 500) {
    next(err);
    return;
  }
  const message = status === 413 ? 'The request body is too large.' : 'The request body is not valid JSON.';
  res.status(status).json({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
}
