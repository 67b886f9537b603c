import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, type GraphQLSchema, separateOperations } from 'graphql';
import { type ComplexityEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';

/**
 * A list field costs its children times the page it asks for (`first`, default 20); every other
 * field costs 1. Queries above GRAPHQL_MAX_COST are refused before anything runs.
 */
const connectionEstimator: ComplexityEstimator = ({ args, childComplexity }) => {
  if (typeof args.first === 'number') return 1 + childComplexity * Math.max(1, args.first);
  if (args.first === undefined && childComplexity > 1 && 'after' in args) return 1 + childComplexity * 20;
  return undefined;
};

export function complexityLimit(schema: GraphQLSchema, maxCost: number): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document }) {
          const operations = request.operationName
            ? (separateOperations(document)[request.operationName] ?? document)
            : document;
          const cost = getComplexity({
            schema,
            query: operations,
            variables: request.variables ?? {},
            operationName: request.operationName ?? undefined,
            estimators: [connectionEstimator, simpleEstimator({ defaultComplexity: 1 })],
          });
          if (cost > maxCost) {
            throw new GraphQLError(`Query is too expensive: cost ${cost} exceeds the limit of ${maxCost}.`, {
              extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
            });
          }
        },
      };
    },
  };
}
