import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  checkCommon,
  checkErrorJson,
  encArb,
  encode,
  extraHeaders,
  formBody,
  formType,
  freshOpenIdTokens,
  fx,
  headerSafe,
  looksLeaky,
  MALFORMED_AUTH,
  must,
  paramName,
  pick,
  pools,
  Req,
  RUNS,
  rarely,
  runs,
  send,
  settings,
  setUpFuzzServer,
  startProperty,
  suiteTitle,
  tokenish,
  urlSafe,
  WriteGuard,
  wholeBodyArb,
} from './helpers.js';

// Property-based fuzzing of the userinfo endpoint: GET/POST /o/userinfo/ with Bearer tokens (RFC 6750).
// Fixtures, transport, oracles and generators: ./helpers.ts, whose header says what must hold
// for every request and how FUZZ_SEED, FUZZ_SCALE, FUZZ_STATS and FUZZ_SHRINK work.

setUpFuzzServer();

describe(suiteTitle('the userinfo endpoint'), () => {
  it(`GET/POST /o/userinfo/ (${runs(RUNS.userinfo)} runs): never a 5xx or a stack trace; a 200 has sub; every 4xx is RFC 6750 §3 JSON (401 with a Bearer challenge) and writes nothing`, async () => {
    const fresh = await freshOpenIdTokens();
    const guard = new WriteGuard();
    startProperty();
    const bearer = fc.oneof(
      { weight: 4, arbitrary: fc.nat().map((i) => `Bearer ${pick(fresh, i)}`) },
      { weight: 4, arbitrary: fc.nat().map((i) => `Bearer ${pick(pools.access, i).value}`) },
      { weight: 2, arbitrary: tokenish.map((t) => `Bearer ${t}`) },
      { weight: 2, arbitrary: fc.constantFrom(...MALFORMED_AUTH) },
      { weight: 1, arbitrary: fc.constantFrom(`Bearer ${fx.hankBearer}`, `Bearer ${fx.clientBearer}`) },
    );
    const arb = fc.record({
      method: fc.oneof(
        { weight: 10, arbitrary: fc.constantFrom('GET', 'POST') },
        { weight: 1, arbitrary: fc.constantFrom('HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') },
      ),
      authorization: fc.option(bearer, { freq: 6 }),
      duplicateAuthorization: rarely(bearer, 12),
      form: fc.option(
        fc.array(fc.tuple(fc.oneof(fc.constant('access_token'), paramName), tokenish, encArb), {
          maxLength: 3,
        }),
        {
          freq: 2,
        },
      ),
      type: formType,
      query: rarely(tokenish, 8),
      wholeBody: wholeBodyArb,
      extra: extraHeaders,
    });
    await fc.assert(
      fc.asyncProperty(arb, async (u) => {
        const headers: Record<string, string | string[]> = { ...u.extra };
        if (u.authorization) {
          headers.authorization = u.duplicateAuthorization
            ? [headerSafe(u.authorization), headerSafe(u.duplicateAuthorization)]
            : headerSafe(u.authorization);
        }
        let body: Buffer | undefined;
        if (u.method === 'POST') {
          if (u.type !== undefined) headers['content-type'] = u.type;
          body = u.wholeBody ?? (u.form ? formBody(u.form.map(([n, v, e]) => ({ n, v, e }))) : undefined);
        }
        const path =
          u.query === null ? '/o/userinfo/' : `/o/userinfo/?access_token=${urlSafe(encode(u.query, 'pct'))}`;
        const req: Req = { method: u.method, path, headers, body };
        fc.pre(!looksLeaky(req));
        await guard.before();
        const res = await send(req);
        checkCommon(req, res);
        // PUT, DELETE and PATCH are not routed here: the site's 404 (a page for browsers) answers them.
        if (['GET', 'POST', 'HEAD'].includes(u.method)) checkErrorJson(req, res);
        if (res.status === 200 && u.method !== 'HEAD') {
          const claims = JSON.parse(res.text) as { sub?: unknown };
          must(typeof claims.sub === 'string', 'OIDC Core §5.3.2: a userinfo answer has sub', req, res);
        }
        if (res.status === 401 && u.method !== 'OPTIONS') {
          must(
            /^Bearer\b/.test(String(res.headers['www-authenticate'] ?? '')),
            'a userinfo 401 carries a Bearer challenge',
            req,
            res,
          );
        }
        await guard.after(req, res, res.status >= 400);
      }),
      settings(2, RUNS.userinfo),
    );
  }, 120_000);
});
