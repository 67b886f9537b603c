import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  clientOf,
  clientPick,
  exchangeForm,
  formRequestArb,
  harvest,
  hostile,
  must,
  optional,
  P,
  pick,
  pools,
  RUNS,
  rarely,
  runs,
  scopeArb,
  settings,
  setUpFuzzServer,
  startProperty,
  suiteTitle,
  tokenish,
  WriteGuard,
} from './helpers.js';

// Property-based fuzzing of revocation, introspection and device authorization: POST /o/revoke_token/, /o/introspect/ and /o/device_authorization/.
// Fixtures, transport, oracles and generators: ./helpers.ts, whose header says what must hold
// for every request and how FUZZ_SEED, FUZZ_SCALE, FUZZ_STATS and FUZZ_SHRINK work.

setUpFuzzServer();

describe(suiteTitle('revocation, introspection and device authorization'), () => {
  it(`POST /o/revoke_token/, /o/introspect/, /o/device_authorization/ (${runs(RUNS.forms)} runs): never a 5xx or a stack trace; every 4xx is RFC JSON and writes nothing`, async () => {
    const guard = new WriteGuard();
    startProperty();
    const hint = fc.option(
      fc.oneof(fc.constantFrom('access_token', 'refresh_token', 'id_token', 'ACCESS_TOKEN'), hostile),
      { freq: 3 },
    );
    const tokenOf = fc.oneof(
      { weight: 4, arbitrary: fc.nat().map((i) => pick(pools.access, i)) },
      { weight: 3, arbitrary: fc.nat().map((i) => pick(pools.refresh, i)) },
      { weight: 1, arbitrary: fc.nat().map((i) => pick(pools.codes, i)) },
    );
    const scenario = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.tuple(tokenOf, rarely(tokenish, 3), hint).map(([t, other, h]) => ({
          client: t.client,
          params: [P('token', other ?? t.value), ...optional('token_type_hint', h)],
        })),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(clientPick(['tv', 'tv', 'tvc', 'pub', 'cc']), fc.option(scopeArb, { freq: 2 }))
          .map(([client, scope]) => ({
            client,
            params: optional('scope', scope),
          })),
      },
    );
    const path = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('/o/revoke_token/', '/o/introspect/') },
      { weight: 1, arbitrary: fc.constant('/o/device_authorization/') },
    );
    await fc.assert(
      fc.asyncProperty(formRequestArb(path, scenario), async (f) => {
        const { req, res } = await exchangeForm(guard, f);
        if (req.path.startsWith('/o/revoke_token/') && res.status === 200) {
          must(res.text === '', 'RFC 7009 §2.2: revocation answers 200 with an empty body', req, res);
        }
        if (req.path.startsWith('/o/introspect/') && res.status === 200 && req.method === 'POST') {
          const body = JSON.parse(res.text) as { active?: unknown };
          must(typeof body.active === 'boolean', 'RFC 7662 §2.2: introspection answers {active}', req, res);
        }
        if (req.path.startsWith('/o/device_authorization/')) harvest(clientOf(f), res);
      }),
      settings(4, RUNS.forms),
    );
  }, 120_000);
});
