import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  allClients,
  basic,
  checkCommon,
  checkErrorJson,
  checkGraphql,
  encArb,
  extraHeaders,
  FORM,
  FORM_TYPES_OK,
  formBody,
  fx,
  headerSafe,
  hostile,
  looksLeaky,
  MALFORMED_AUTH,
  OTHER_TYPES,
  paramName,
  pick,
  Req,
  RUNS,
  realValue,
  runs,
  send,
  settings,
  setUpFuzzServer,
  startProperty,
  suiteTitle,
  tokenish,
  urlSafe,
  WriteGuard,
} from './helpers.js';

// Property-based fuzzing of every endpoint with junk requests: Any method, content type, encoding and body on every endpoint.
// Fixtures, transport, oracles and generators: ./helpers.ts, whose header says what must hold
// for every request and how FUZZ_SEED, FUZZ_SCALE, FUZZ_STATS and FUZZ_SHRINK work.

setUpFuzzServer();

describe(suiteTitle('every endpoint with junk requests'), () => {
  it(`any method, content type, encoding and body on every endpoint (${runs(RUNS.junk)} runs): never a 5xx or a stack trace; JSON endpoints answer JSON errors; rejected requests write nothing`, async () => {
    const guard = new WriteGuard();
    startProperty();
    const PROTOCOL = ['/o/token/', '/o/revoke_token/', '/o/introspect/', '/o/device_authorization/'];
    const arb = fc.record({
      path: fc.constantFrom(
        ...PROTOCOL,
        '/o/userinfo/',
        '/o/authorize/',
        '/graphql',
        '/o/jwks/',
        '/.well-known/openid-configuration',
      ),
      query: fc.option(fc.array(fc.tuple(paramName, tokenish, encArb), { minLength: 1, maxLength: 3 }), {
        freq: 3,
      }),
      method: fc.constantFrom(
        'GET',
        'POST',
        'POST',
        'POST',
        'PUT',
        'PATCH',
        'DELETE',
        'HEAD',
        'OPTIONS',
        'TRACE',
        'PROPFIND',
        'FOO',
      ),
      type: fc.oneof(
        fc.constantFrom<string | undefined>(
          undefined,
          FORM,
          'application/json',
          ...OTHER_TYPES,
          ...FORM_TYPES_OK,
        ),
        hostile.map(headerSafe),
      ),
      body: fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
        fc.json({ maxDepth: 3 }).map((s) => Buffer.from(s)),
        fc
          .array(fc.tuple(paramName, tokenish, encArb), { maxLength: 5 })
          .map((ps) => formBody(ps.map(([n, v, e]) => ({ n, v, e })))),
        fc.constant(Buffer.from('{"query":"mutation { rotateSigningKey { kid } }"}')),
        fc.constant(Buffer.alloc(70_000, 0x7b)),
        fc.constant(undefined),
      ),
      authorization: fc.option(
        fc.oneof(
          fc.constantFrom(...MALFORMED_AUTH),
          realValue.map((v) => `Bearer ${v}`),
          fc.nat().map((i) => {
            const c = pick(allClients(), i);
            return basic(c.clientId, c.secret ?? '');
          }),
        ),
        { freq: 2 },
      ),
      cookie: fc.constantFrom('none', 'none', 'alice', 'gina', 'junk'),
      junk: hostile,
      extra: extraHeaders,
    });
    await fc.assert(
      fc.asyncProperty(arb, async (j) => {
        const headers: Record<string, string | string[]> = { ...j.extra };
        if (j.type !== undefined) headers['content-type'] = j.type;
        if (j.authorization) headers.authorization = headerSafe(j.authorization);
        if (j.cookie === 'alice') headers.cookie = fx.aliceCookie;
        if (j.cookie === 'gina') headers.cookie = fx.ginaCookie;
        if (j.cookie === 'junk') headers.cookie = headerSafe(`${fx.sessionCookieName}=${j.junk}`);
        const query = j.query ? `?${urlSafe(formBody(j.query.map(([n, v, e]) => ({ n, v, e }))))}` : '';
        const req: Req = { method: j.method, path: j.path + query, headers, body: j.body };
        fc.pre(!looksLeaky(req));
        await guard.before();
        const res = await send(req);
        checkCommon(req, res);
        let rejected: boolean;
        if (PROTOCOL.includes(j.path)) {
          checkErrorJson(req, res);
          rejected = res.status >= 400;
        } else if (j.path === '/o/userinfo/') {
          if (['GET', 'POST', 'HEAD'].includes(j.method)) checkErrorJson(req, res);
          rejected = true; // userinfo only reads
        } else if (j.path === '/graphql') {
          let sent: { query?: unknown; operationName?: unknown } = {};
          try {
            sent = JSON.parse(j.body?.toString('utf8') ?? '') ?? {};
          } catch {
            // not JSON: nothing can have run
          }
          rejected =
            j.method === 'POST'
              ? checkGraphql(
                  req,
                  res,
                  typeof sent.query === 'string' ? sent.query : '',
                  typeof sent.operationName === 'string' ? sent.operationName : undefined,
                )
              : res.status >= 400;
        } else if (j.path === '/o/authorize/') {
          rejected = !/[?#&](?:code|access_token)=/.test(String(res.headers.location ?? ''));
        } else {
          rejected = true; // metadata and JWKS only read
        }
        await guard.after(req, res, rejected);
      }),
      settings(6, RUNS.junk),
    );
  }, 120_000);
});
