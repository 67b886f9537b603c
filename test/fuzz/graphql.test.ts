import fc from 'fast-check';
import { getNamedType, isObjectType } from 'graphql';
import { describe, it } from 'vitest';
import {
  Actor,
  actorHeaders,
  buildGqlRequest,
  buildOperation,
  checkGraphql,
  fullSelection,
  fx,
  gqlRequestArb,
  harvestIds,
  hostile,
  ident,
  keepHankBearerAlive,
  looksLeaky,
  MUTATIONS,
  mutationCall,
  pick,
  Req,
  RUNS,
  runs,
  send,
  settings,
  setUpFuzzServer,
  startProperty,
  suiteTitle,
  UUID,
  variablesDoNotCoerce,
  WriteGuard,
} from './helpers.js';

// Property-based fuzzing of the GraphQL door: POST /graphql mutations built from the committed
// schema, and one property per bug this fuzzing found.
// Fixtures, transport, oracles and generators: ./helpers.ts, whose header says what must hold
// for every request and how FUZZ_SEED, FUZZ_SCALE, FUZZ_STATS and FUZZ_SHRINK work.

setUpFuzzServer();

describe(suiteTitle('the GraphQL door'), () => {
  it(`POST /graphql mutations, anonymous, session cookie and Bearer (${runs(RUNS.graphql)} runs): never a 5xx, a stack trace or an INTERNAL_SERVER_ERROR; every error is typed; a rejected mutation writes nothing`, async () => {
    const guard = new WriteGuard();
    startProperty();
    await fc.assert(
      fc.asyncProperty(gqlRequestArb, async (g) => {
        const { req, query, operationName } = buildGqlRequest(g);
        fc.pre(!looksLeaky(req));
        await guard.before();
        const res = await send(req);
        const rejected = checkGraphql(req, res, query, operationName);
        await guard.after(req, res, rejected);
        if (!rejected) harvestIds(res);
        if (g.actor === 'hank' || g.clean) await keepHankBearerAlive(guard);
      }),
      settings(5, RUNS.graphql),
    );
  }, 120_000);

  it(`POST /graphql, an anonymous operation with an operationName (${runs(50)} runs): never a 5xx or an INTERNAL_SERVER_ERROR`, async () => {
    const arb = fc.record({
      document: fc.oneof(
        fc.constantFrom('{ __typename }', 'query { viewer { id } }', 'mutation { rotateSigningKey { kid } }'),
        mutationCall.map((call) => buildOperation([call], 'mutation', null)),
      ),
      actor: fc.constantFrom<Actor>('anonymous', 'gina', 'root', 'hank'),
      operationName: ident,
    });
    const guard = new WriteGuard();
    startProperty();
    await fc.assert(
      fc.asyncProperty(arb, async (a) => {
        const op = typeof a.document === 'string' ? { query: a.document, variables: {} } : a.document;
        const req: Req = {
          method: 'POST',
          path: '/graphql',
          headers: { 'content-type': 'application/json', ...actorHeaders(a.actor, '', '') },
          body: Buffer.from(
            JSON.stringify({ query: op.query, variables: op.variables, operationName: a.operationName }),
          ),
        };
        fc.pre(!looksLeaky(req));
        await guard.before();
        const res = await send(req);
        await guard.after(req, res, checkGraphql(req, res, op.query, a.operationName));
      }),
      settings(7, 50),
    );
  }, 120_000);

  it(`POST /graphql, variables that do not coerce to their declared types (${runs(50)} runs): never a 5xx`, async () => {
    const withVariables = MUTATIONS.filter((m) => m.args.length > 0).map((m) => {
      const decls = m.args.map((a, i) => `$v${i}: ${a.type.toString()}`).join(', ');
      const args = m.args.map((a, i) => `${a.name}: $v${i}`).join(', ');
      return `mutation(${decls}) { ${m.name}(${args}) ${fullSelection(m.type)} }`;
    });
    const arb = fc.record({
      query: fc.constantFrom(...withVariables),
      values: fc.array(fc.option(fc.jsonValue({ maxDepth: 2 }), { freq: 4 }), { minLength: 3, maxLength: 3 }),
      actor: fc.constantFrom<Actor>('anonymous', 'gina', 'root', 'hank'),
    });
    const guard = new WriteGuard();
    startProperty();
    await fc.assert(
      fc.asyncProperty(arb, async (a) => {
        const variables: Record<string, unknown> = {};
        a.values.forEach((v, i) => {
          if (v !== null) variables[`v${i}`] = v;
        });
        fc.pre(variablesDoNotCoerce(a.query, variables));
        const req: Req = {
          method: 'POST',
          path: '/graphql',
          headers: { 'content-type': 'application/json', ...actorHeaders(a.actor, '', '') },
          body: Buffer.from(JSON.stringify({ query: a.query, variables })),
        };
        fc.pre(!looksLeaky(req));
        await guard.before();
        const res = await send(req);
        await guard.after(req, res, checkGraphql(req, res, a.query));
      }),
      settings(8, 50),
    );
  }, 120_000);

  it(`POST /graphql, a spread of an undefined fragment (${runs(50)} runs): never a 5xx or an INTERNAL_SERVER_ERROR`, async () => {
    const documents = [
      '{ viewer { id } }',
      'query Q { applications { totalCount edges { node { id } } } }',
      ...MUTATIONS.filter((m) => m.args.length === 0 || isObjectType(getNamedType(m.type))).map(
        (m) =>
          `mutation { ${m.name}${m.args.length ? `(${m.args.map((a) => `${a.name}: null`).join(', ')})` : ''} ${fullSelection(m.type)} }`,
      ),
    ];
    const arb = fc.record({
      document: fc.constantFrom(...documents),
      at: fc.nat(),
      name: ident,
      defineOther: fc.boolean(),
      actor: fc.constantFrom<Actor>('anonymous', 'gina', 'root', 'hank'),
    });
    const guard = new WriteGuard();
    startProperty();
    await fc.assert(
      fc.asyncProperty(arb, async (a) => {
        const braces = [...a.document.matchAll(/\{/g)].map((m) => m.index);
        const at = braces[a.at % braces.length] + 1;
        let query = `${a.document.slice(0, at)} ...${a.name} ${a.document.slice(at)}`;
        if (a.defineOther) query += ` fragment ${a.name}X on Query { __typename }`;
        const req: Req = {
          method: 'POST',
          path: '/graphql',
          headers: { 'content-type': 'application/json', ...actorHeaders(a.actor, '', '') },
          body: Buffer.from(JSON.stringify({ query })),
        };
        fc.pre(!looksLeaky(req));
        await guard.before();
        const res = await send(req);
        await guard.after(req, res, checkGraphql(req, res, query));
      }),
      settings(9, 50),
    );
  }, 120_000);

  it(`POST /graphql, revokeTokens and tokens with an empty applicationId or userId (${runs(50)} runs): never an INTERNAL_SERVER_ERROR`, async () => {
    const arb = fc.record({
      field: fc.constantFrom('applicationId', 'userId'),
      others: fc.record(
        { active: fc.boolean(), kind: fc.constantFrom('ACCESS', 'REFRESH') },
        { requiredKeys: [] },
      ),
      operation: fc.constantFrom(
        (f: string) => `mutation { revokeTokens(filter: ${f}) }`,
        (f: string) => `{ tokens(filter: ${f}) { totalCount } }`,
      ),
      actor: fc.constantFrom<Actor>('gina', 'root', 'hank'),
    });
    const guard = new WriteGuard();
    startProperty();
    await fc.assert(
      fc.asyncProperty(arb, async (a) => {
        const fields = [`${a.field}: ""`, ...Object.entries(a.others).map(([k, v]) => `${k}: ${v}`)];
        const query = a.operation(`{${fields.join(', ')}}`);
        const req: Req = {
          method: 'POST',
          path: '/graphql',
          headers: { 'content-type': 'application/json', ...actorHeaders(a.actor, '', '') },
          body: Buffer.from(JSON.stringify({ query })),
        };
        await guard.before();
        const res = await send(req);
        await guard.after(req, res, checkGraphql(req, res, query));
      }),
      settings(10, 50),
    );
  }, 120_000);

  it(`POST /graphql, updateUser and deleteUser by an admin with a malformed id (${runs(50)} runs): never an INTERNAL_SERVER_ERROR`, async () => {
    const arb = fc.record({
      id: fc.oneof(
        hostile,
        fc.nat().map(String),
        fc.uuid().map((u) => u.slice(0, 35)),
      ),
      update: fc.boolean(),
    });
    const guard = new WriteGuard();
    startProperty();
    await fc.assert(
      fc.asyncProperty(arb, async (a) => {
        fc.pre(!UUID.test(a.id));
        const query = a.update
          ? 'mutation($id: ID!) { updateUser(id: $id, input: {isActive: true}) { id } }'
          : 'mutation($id: ID!) { deleteUser(id: $id) }';
        const req: Req = {
          method: 'POST',
          path: '/graphql',
          headers: { 'content-type': 'application/json', cookie: fx.rootCookie },
          body: Buffer.from(JSON.stringify({ query, variables: { id: a.id } })),
        };
        fc.pre(!looksLeaky(req));
        await guard.before();
        const res = await send(req);
        await guard.after(req, res, checkGraphql(req, res, query));
      }),
      settings(11, 50),
    );
  }, 120_000);

  it(`POST /graphql, a mutation with an Accept header that excludes JSON (${runs(30)} runs): the 406 writes nothing`, async () => {
    const arb = fc.record({
      accept: fc.constantFrom('text/html', 'application/xml', 'text/plain', 'image/png'),
      operation: fc.constantFrom('create', 'rotate', 'revokeAll'),
      i: fc.nat(),
    });
    const guard = new WriteGuard();
    startProperty();
    await fc.assert(
      fc.asyncProperty(arb, async (a) => {
        const query = {
          create:
            'mutation { createApplication(input: {name: "accept", clientType: CONFIDENTIAL, grantTypes: [CLIENT_CREDENTIALS]}) { clientSecret } }',
          rotate: `mutation { rotateClientSecret(id: "${pick(fx.ginaApps, a.i)}") { clientSecret } }`,
          revokeAll: 'mutation { revokeTokens(filter: {active: true}) }',
        }[a.operation];
        const req: Req = {
          method: 'POST',
          path: '/graphql',
          headers: { 'content-type': 'application/json', accept: a.accept, cookie: fx.ginaCookie },
          body: Buffer.from(JSON.stringify({ query })),
        };
        await guard.before();
        const res = await send(req);
        await guard.after(req, res, checkGraphql(req, res, query));
      }),
      settings(12, 30),
    );
  }, 120_000);
});
