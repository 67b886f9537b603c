import type { ApolloServerPlugin } from '@apollo/server';
import {
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type SelectionSetNode,
  type ValidationRule,
} from 'graphql';
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
        async didResolveOperation({ request, document, operation }) {
          let cost: number;
          try {
            cost = getComplexity({
              schema,
              query: document,
              variables: request.variables ?? {},
              operationName: operation?.name?.value,
              estimators: [connectionEstimator, simpleEstimator({ defaultComplexity: 1 })],
            });
          } catch {
            // Variables that do not coerce: execution refuses them with BAD_USER_INPUT (a 400)
            // before anything runs, so there is nothing to price here.
            return;
          }
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

/**
 * Refuses operations nested deeper than `maxDepth` (top-level fields are depth 0), following
 * fragment spreads. Undefined fragments are left to GraphQL's own rule, which reports them.
 */
export function depthLimit(maxDepth: number): ValidationRule {
  return (context) => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    }
    const deepest = (set: SelectionSetNode, depth: number, seen: Set<string>): number => {
      let max = depth;
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          max = Math.max(
            max,
            selection.selectionSet ? deepest(selection.selectionSet, depth + 1, seen) : depth,
          );
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          max = Math.max(max, deepest(selection.selectionSet, depth, seen));
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (fragment && !seen.has(name))
            max = Math.max(max, deepest(fragment.selectionSet, depth, new Set([...seen, name])));
        }
        if (max > maxDepth) return max;
      }
      return max;
    };
    return {
      OperationDefinition(node) {
        if (deepest(node.selectionSet, 0, new Set()) > maxDepth) {
          const name = node.name?.value ?? 'anonymous operation';
          context.reportError(
            new GraphQLError(`'${name}' exceeds maximum operation depth of ${maxDepth}`, { nodes: [node] }),
          );
        }
      },
    };
  };
}
