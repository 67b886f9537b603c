import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  clientOf,
  exchangeForm,
  formRequestArb,
  harvest,
  RUNS,
  runs,
  settings,
  setUpFuzzServer,
  startProperty,
  suiteTitle,
  tokenScenario,
  WriteGuard,
} from './helpers.js';

// Property-based fuzzing of the token endpoint: POST /o/token/ with every grant type.
// Fixtures, transport, oracles and generators: ./helpers.ts, whose header says what must hold
// for every request and how FUZZ_SEED, FUZZ_SCALE, FUZZ_STATS and FUZZ_SHRINK work.

setUpFuzzServer();

describe(suiteTitle('the token endpoint'), () => {
  it(`POST /o/token/, every grant type (${runs(RUNS.token)} runs): never a 5xx or a stack trace; a 200 is an RFC 6749 §5.1 Bearer response; every 4xx is RFC 6749 §5.2 JSON and writes nothing`, async () => {
    const guard = new WriteGuard();
    startProperty();
    await fc.assert(
      fc.asyncProperty(
        formRequestArb(fc.constantFrom('/o/token/', '/o/token/', '/o/token'), tokenScenario),
        async (f) => {
          const { res } = await exchangeForm(guard, f);
          harvest(clientOf(f), res);
        },
      ),
      settings(1, RUNS.token),
    );
  }, 120_000);
});
