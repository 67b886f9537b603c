import 'reflect-metadata';
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { buildSchemaSync } from 'type-graphql';
import { AdminResolver } from './resolvers/admin.js';
import { ApplicationResolver } from './resolvers/applications.js';
import { AuthorizationResolver } from './resolvers/authorizations.js';
import { FactorResolver } from './resolvers/factors.js';
import { InitialAccessTokenResolver } from './resolvers/initial-access-tokens.js';
import { ResourceResolver } from './resolvers/resources.js';
import { TokenResolver } from './resolvers/tokens.js';
import { UserResolver } from './resolvers/users.js';
import { ViewerResolver } from './resolvers/viewer.js';

let schema: GraphQLSchema | undefined;

/** The code-first schema (built once per process). Rules live in the services the resolvers call. */
export function getSchema(): GraphQLSchema {
  schema ??= buildSchemaSync({
    resolvers: [
      ViewerResolver,
      ApplicationResolver,
      TokenResolver,
      AuthorizationResolver,
      UserResolver,
      FactorResolver,
      AdminResolver,
      InitialAccessTokenResolver,
      ResourceResolver,
    ],
    validate: false,
  });
  return schema;
}

/** The SDL committed as schema/schema.graphql. */
export function printLatchkeySchema(): string {
  return `${printSchema(lexicographicSortSchema(getSchema()))}\n`;
}
