import { GraphQLEnumType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { parseGrantType } from '../../src/cli/create-application.js';
import { loadConfig } from '../../src/config/index.js';
import { DEFAULT_SCOPES } from '../../src/config/scopes.js';
import { getSchema } from '../../src/graphql/schema.js';
import { grants } from '../../src/oauth/grants/index.js';
import { openIdConfiguration, serverMetadata } from '../../src/oauth/metadata.js';
import { defaultApplicationScopes } from '../../src/services/applications.js';
import { ValidationError } from '../../src/services/errors.js';
import { checkGrantTypes } from '../../src/services/validators.js';
import {
  ADMIN_ONLY_SCOPES,
  CONFIDENTIAL_AUTH_METHODS,
  GRANT_TYPE_ENTRIES,
  GRANT_TYPES,
  grantTypeNamed,
  PRIVILEGED_SCOPES,
  REFRESH_CHAIN_STARTERS,
  SCOPE_ENTRIES,
  TOKEN_ENDPOINT_AUTH_METHOD_ENTRIES,
  TOKEN_ENDPOINT_AUTH_METHODS,
  TOKEN_KIND_ENTRIES,
} from '../../src/vocabulary.js';
import { applicationFormView, newApplicationDefaults } from '../../src/web/application-form.js';

const config = loadConfig({});

/** The GraphQL enum's values as `GRAPHQL_NAME → internal value`, from the built schema. */
function enumValues(name: string): Record<string, unknown> {
  const type = getSchema().getType(name);
  if (!(type instanceof GraphQLEnumType)) throw new Error(`${name} is not an enum`);
  return Object.fromEntries(type.getValues().map((v) => [v.name, v.value]));
}

describe('the grant-type vocabulary (issue 14: one list, every door derives from it)', () => {
  it('RFC 6749 §4 / RFC 8628 §3.4: every token-endpoint grant type has a handler in the grants table, and only those', () => {
    const served = GRANT_TYPE_ENTRIES.filter((g) => g.endpoint === 'token').map((g) => g.name);
    expect([...grants.keys()].sort()).toEqual([...served].sort());
    for (const [grantType, handler] of grants) expect(handler.grantType).toBe(grantType);
  });

  it('RFC 7591 §2: implicit is marked authorization-endpoint-only and the token endpoint has no handler for it', () => {
    const authorizationOnly = GRANT_TYPE_ENTRIES.filter((g) => g.endpoint === 'authorization').map(
      (g) => g.name,
    );
    expect(authorizationOnly).toEqual(['implicit']);
    expect(grants.has('implicit')).toBe(false);
  });

  it('RFC 7591 §2: CLI name ↔ RFC 7591 name ↔ GraphQL enum round-trips for every grant type', () => {
    const graphql = enumValues('GrantType');
    for (const g of GRANT_TYPE_ENTRIES) {
      for (const spelling of [
        g.name,
        g.cli,
        g.graphql,
        g.graphql.toLowerCase(),
        ` ${g.cli.toUpperCase()} `,
      ]) {
        expect(grantTypeNamed(spelling), spelling).toBe(g.name);
        expect(parseGrantType(spelling), spelling).toBe(g.name);
      }
      expect(graphql[g.graphql], g.graphql).toBe(g.name);
    }
    expect(parseGrantType('device_code')).toBe('urn:ietf:params:oauth:grant-type:device_code');
    expect(grantTypeNamed('urn:ietf:params:oauth:grant-type:device')).toBeUndefined();
    expect(parseGrantType('token_exchange')).toBe('urn:ietf:params:oauth:grant-type:token-exchange');
    expect(() => parseGrantType('jwt_bearer')).toThrow(/implicit, token_exchange\)/);
  });

  it('GraphQL schema: the GrantType, TokenEndpointAuthMethod and TokenKind enums hold exactly the vocabulary, in its order', () => {
    const asEnum = (entries: readonly { graphql: string; name: string }[]) =>
      Object.fromEntries(entries.map((e) => [e.graphql, e.name]));
    for (const [name, entries] of [
      ['GrantType', GRANT_TYPE_ENTRIES],
      ['TokenEndpointAuthMethod', TOKEN_ENDPOINT_AUTH_METHOD_ENTRIES],
      ['TokenKind', TOKEN_KIND_ENTRIES],
    ] as const) {
      const values = enumValues(name);
      expect(Object.keys(values), name).toEqual(entries.map((e) => e.graphql));
      expect(values, name).toEqual(asEnum(entries));
    }
  });

  it("RFC 8414 §2: metadata's grant_types_supported and token_endpoint_auth_methods_supported are the vocabulary's lists", () => {
    for (const doc of [serverMetadata(config), openIdConfiguration(config)]) {
      expect(doc.grant_types_supported).toEqual([...GRANT_TYPES]);
      expect(doc.token_endpoint_auth_methods_supported).toEqual([...TOKEN_ENDPOINT_AUTH_METHODS]);
      expect(doc.revocation_endpoint_auth_methods_supported).toEqual([...TOKEN_ENDPOINT_AUTH_METHODS]);
      // RFC 7662 §2.1: introspection needs a credential: no bare client_id ("none").
      expect(doc.introspection_endpoint_auth_methods_supported).toEqual([
        ...CONFIDENTIAL_AUTH_METHODS,
        'bearer',
      ]);
    }
  });

  it('the application form offers every grant type of the vocabulary, each with a label', () => {
    const viewer = { id: 'u', username: 'u', isAdmin: false, isActive: true };
    const view = applicationFormView(config, viewer, newApplicationDefaults([]));
    expect(view.grantTypes.map((g) => g.value)).toEqual([...GRANT_TYPES]);
    for (const g of view.grantTypes) expect(g.label.length, g.value).toBeGreaterThan(0);
    // OIDC Core §9: a confidential client picks a method that sends its secret or signs with its key.
    expect(view.authMethods.map((m) => m.value)).toEqual([...CONFIDENTIAL_AUTH_METHODS]);
  });

  it('RFC 6749 §1.5: refresh_token is accepted with each grant that starts a refresh chain and refused alone', () => {
    expect(REFRESH_CHAIN_STARTERS).toEqual([
      'authorization_code',
      'password',
      'urn:ietf:params:oauth:grant-type:device_code',
      // RFC 8693 §2.2.1: where the application's exchange policy allows refresh tokens.
      'urn:ietf:params:oauth:grant-type:token-exchange',
    ]);
    for (const starter of REFRESH_CHAIN_STARTERS) {
      expect(() =>
        checkGrantTypes('confidential', [starter, 'refresh_token'], ['https://a.example/cb']),
      ).not.toThrow();
    }
    for (const other of GRANT_TYPES.filter((g) => !REFRESH_CHAIN_STARTERS.includes(g))) {
      expect(
        () => checkGrantTypes('confidential', [other, 'refresh_token'], ['https://a.example/cb']),
        other,
      ).toThrow(ValidationError);
    }
  });
});

describe('the scope vocabulary', () => {
  it('Review: an admin-only scope (introspection) is also privileged, so no new application gets it by default', () => {
    expect(ADMIN_ONLY_SCOPES).toEqual(['introspection']);
    expect(PRIVILEGED_SCOPES).toEqual(['graphql', 'introspection']);
    for (const s of ADMIN_ONLY_SCOPES) expect(PRIVILEGED_SCOPES).toContain(s);
    expect(defaultApplicationScopes(DEFAULT_SCOPES)).toEqual(['read', 'write', 'openid', 'profile', 'email']);
  });

  it("the default SCOPES setting is the vocabulary's scopes with their consent descriptions", () => {
    expect(Object.keys(DEFAULT_SCOPES)).toEqual(SCOPE_ENTRIES.map((s) => s.name));
    expect(config.scopes).toEqual(DEFAULT_SCOPES);
  });
});
