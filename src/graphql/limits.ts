import type { ApolloServerPlugin } from '@apollo/server';
import {
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  getVariableValues,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { type ComplexityEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';
import { pageBound } from '../services/pagination.js';

/**
 * A connection (a field taking `first`) costs its children times the page it will return, the
 * default page when `first` is left out; every other field costs 1 plus its children.
 */
const connectionEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  if (!field.args.some((arg) => arg.name === 'first')) return undefined;
  return 1 + childComplexity * pageBound(args.first);
};

/** The most selections the cost estimator walks; GRAPHQL_MAX_FIELDS may not exceed half of it. */
const MAX_PRICED_NODES = 10_000;

function refused(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
}

/**
 * Prices each operation before it runs and refuses it above `maxCost`, or when it cannot be
 * priced: an unpriced query is exactly the one an attacker would send.
 */
export function complexityLimit(schema: GraphQLSchema, maxCost: number): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operation }) {
          // Variables that do not coerce: execution refuses them with BAD_USER_INPUT before any
          // resolver runs, using this same function, so there is nothing to price.
          const coerced = getVariableValues(
            schema,
            operation?.variableDefinitions ?? [],
            request.variables ?? {},
            { maxErrors: 1 },
          );
          if ('errors' in coerced) return;
          let cost: number;
          try {
            cost = getComplexity({
              schema,
              query: document,
              variables: request.variables ?? {},
              operationName: operation?.name?.value,
              estimators: [connectionEstimator, simpleEstimator({ defaultComplexity: 1 })],
              // Selections, fragments expanded; above GRAPHQL_MAX_FIELDS' ceiling, so a query
              // the field limit admits is only refused here if it is mostly fragments wrapping fields.
              maxQueryNodes: MAX_PRICED_NODES,
            });
          } catch {
            throw refused('The query cannot be priced, so it is not run.');
          }
          if (!Number.isFinite(cost)) throw refused('The query cannot be priced, so it is not run.');
          if (cost > maxCost) {
            throw refused(`Query is too expensive: cost ${cost} exceeds the limit of ${maxCost}.`);
          }
        },
      };
    },
  };
}

/** The document's fragments by name: the rules below expand spreads themselves. */
function fragmentsOf(context: ValidationContext): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of context.getDocument().definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  }
  return fragments;
}

/**
 * Refuses operations selecting more than `maxFields` fields once fragments are expanded, so a
 * wall of aliases is turned away before pricing or execution. Each fragment is counted once and
 * reused (a fragment spread twice per level would otherwise take 2^n steps); a fragment in a
 * cycle counts 0 here and is reported by GraphQL's own rule.
 */
export function fieldLimit(maxFields: number): ValidationRule {
  return (context) => {
    const fragments = fragmentsOf(context);
    const counted = new Map<string, number>();
    const fieldsIn = (set: SelectionSetNode): number => {
      let total = 0;
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          total += 1 + (selection.selectionSet ? fieldsIn(selection.selectionSet) : 0);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          total += fieldsIn(selection.selectionSet);
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (!fragment) continue;
          if (!counted.has(name)) {
            counted.set(name, 0);
            counted.set(name, fieldsIn(fragment.selectionSet));
          }
          total += counted.get(name) ?? 0;
        }
      }
      return total;
    };
    return {
      OperationDefinition(node) {
        const total = fieldsIn(node.selectionSet);
        if (total > maxFields) {
          const name = node.name?.value ?? 'anonymous operation';
          const shown = Number.isSafeInteger(total) ? String(total) : 'too many';
          context.reportError(
            new GraphQLError(`'${name}' selects ${shown} fields, more than the limit of ${maxFields}`, {
              nodes: [node],
            }),
          );
        }
      },
    };
  };
}

/** The introspection entry points; below them every type is an introspection type. */
const INTROSPECTION_ROOTS = new Set(['__schema', '__type']);

/**
 * Refuses operations nested deeper than `maxDepth` (top-level fields are depth 0), following
 * fragment spreads. Inside introspection `ofType` adds no depth: it unwraps one List/NonNull
 * wrapper of an in-memory type and returns a single object, so it cannot fan out, and standard
 * introspection queries (GraphiQL's included) nest it nine deep. Undefined fragments are left to
 * GraphQL's own rule, which reports them.
 */
export function depthLimit(maxDepth: number): ValidationRule {
  return (context) => {
    const fragments = fragmentsOf(context);
    // How deep each fragment reaches below where it is spread, per introspection flag.
    const reach = new Map<string, number>();
    const deepest = (set: SelectionSetNode, introspection: boolean): number => {
      let max = 0;
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          if (!selection.selectionSet) continue;
          const inside = introspection || INTROSPECTION_ROOTS.has(selection.name.value);
          const step = inside && selection.name.value === 'ofType' ? 0 : 1;
          max = Math.max(max, step + deepest(selection.selectionSet, inside));
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          max = Math.max(max, deepest(selection.selectionSet, introspection));
        } else {
          const fragment = fragments.get(selection.name.value);
          if (!fragment) continue;
          const key = `${introspection}:${selection.name.value}`;
          if (!reach.has(key)) {
            reach.set(key, 0); // a cycle: GraphQL's own rule reports it
            reach.set(key, deepest(fragment.selectionSet, introspection));
          }
          max = Math.max(max, reach.get(key) ?? 0);
        }
      }
      return max;
    };
    return {
      OperationDefinition(node) {
        if (deepest(node.selectionSet, false) > maxDepth) {
          const name = node.name?.value ?? 'anonymous operation';
          context.reportError(
            new GraphQLError(`'${name}' exceeds maximum operation depth of ${maxDepth}`, { nodes: [node] }),
          );
        }
      },
    };
  };
}
