import type { ApolloServerPlugin } from '@apollo/server';
import {
  type FieldNode,
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

/** The introspection entry points; below them every type is an introspection type. */
const INTROSPECTION_ROOTS = new Set(['__schema', '__type']);

/**
 * Counts the fields of each operation that `counts` selects, fragments expanded. Each fragment is
 * counted once per position (root or not) and reused, so a fragment spread twice per level does
 * not take 2^n steps; a fragment in a cycle counts 0 here and is reported by GraphQL's own rule.
 */
function countingRule(
  counts: (field: FieldNode, atRoot: boolean) => boolean,
  check: (total: number, operation: string) => string | undefined,
): ValidationRule {
  return (context) => {
    const fragments = fragmentsOf(context);
    const counted = new Map<string, number>();
    const countIn = (set: SelectionSetNode, atRoot: boolean): number => {
      let total = 0;
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          if (counts(selection, atRoot)) total += 1;
          if (selection.selectionSet) total += countIn(selection.selectionSet, false);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          total += countIn(selection.selectionSet, atRoot);
        } else {
          const fragment = fragments.get(selection.name.value);
          if (!fragment) continue;
          const key = `${atRoot}:${selection.name.value}`;
          if (!counted.has(key)) {
            counted.set(key, 0);
            counted.set(key, countIn(fragment.selectionSet, atRoot));
          }
          total += counted.get(key) ?? 0;
        }
      }
      return total;
    };
    return {
      OperationDefinition(node) {
        const problem = check(countIn(node.selectionSet, true), node.name?.value ?? 'anonymous operation');
        if (problem) context.reportError(new GraphQLError(problem, { nodes: [node] }));
      },
    };
  };
}

const shown = (total: number) => (Number.isSafeInteger(total) ? String(total) : 'too many');

/**
 * Refuses operations selecting more than `maxFields` fields once fragments are expanded, so a
 * wall of aliases is turned away before pricing or execution.
 */
export function fieldLimit(maxFields: number): ValidationRule {
  return countingRule(
    () => true,
    (total, name) =>
      total > maxFields
        ? `'${name}' selects ${shown(total)} fields, more than the limit of ${maxFields}`
        : undefined,
  );
}

/** Root fields answered without the database: the viewer comes with the request's context. */
const FREE_ROOT_FIELDS = new Set(['viewer', '__typename', '__schema', '__type']);

/**
 * Every root field but the viewer (a lookup, a list, a mutation) and every `totalCount` is a
 * database round trip of its own — nested fields are batched per request by the loaders — and
 * rows do not price them: `tokens(first: 0) { totalCount }` is two queries at cost 2. So their
 * number is limited on its own (GRAPHQL_MAX_ROUND_TRIPS), before anything runs.
 */
export function roundTripLimit(maxRoundTrips: number): ValidationRule {
  return countingRule(
    (field, atRoot) =>
      field.name.value === 'totalCount' || (atRoot && !FREE_ROOT_FIELDS.has(field.name.value)),
    (total, name) =>
      total > maxRoundTrips
        ? `'${name}' needs ${shown(total)} database queries, more than the limit of ${maxRoundTrips}`
        : undefined,
  );
}

/**
 * One schema introspection per operation: tools send exactly one, and each `__schema` walks the
 * whole schema (aliases of it made an anonymous request cost hundreds of milliseconds).
 */
export function introspectionLimit(): ValidationRule {
  return countingRule(
    (field, atRoot) => atRoot && INTROSPECTION_ROOTS.has(field.name.value),
    (total, name) =>
      total > 1 ? `'${name}' introspects the schema ${shown(total)} times; once is enough` : undefined,
  );
}

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
