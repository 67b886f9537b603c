import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueIdToken } from '../../src/oidc/id-token.js';
import { clientChanged } from '../../src/services/client-cache.js';
import { type Ctx, isServerRuntime } from '../../src/services/context.js';
import { rotateSigningKeys } from '../../src/services/key-rotation.js';
import { findAccessToken, insertAccessToken, mintAccessToken } from '../../src/services/tokens.js';
import { serviceRuntime } from '../helpers/services.js';

let env: Awaited<ReturnType<typeof serviceRuntime>>;
beforeAll(async () => {
  env = await serviceRuntime();
});
afterAll(() => env.close());

describe('runtime: required stores in request code, a narrower runtime for the CLI (issue 14)', () => {
  it('Issue 14: the CLI runtime is not a server runtime, and the services it calls work without server stores', async () => {
    expect(isServerRuntime(env.runtime)).toBe(false);
    const ctx = env.ctx();
    await expect(clientChanged(ctx, 'no-such-client')).resolves.toBeUndefined();
    const fresh = await rotateSigningKeys(ctx);
    expect(fresh.length).toBeGreaterThan(0);
  });

  it('Issue 14: a service that needs a server store does not type-check with the CLI context (npm run typecheck)', () => {
    // Never called: the directives fail the typecheck if one of these starts accepting the CLI's
    // context again (which used to cost a silent fallback store per call).
    const cliCannotCall = (cli: Ctx, subject: Parameters<typeof mintAccessToken>[1]) => {
      // @ts-expect-error the CLI's runtime has no key store to sign JWT access tokens with
      void mintAccessToken(cli, subject);
      // @ts-expect-error the CLI's runtime has no batched access-token store
      void findAccessToken(cli, 'value');
      // @ts-expect-error the CLI's runtime has no batched access-token store
      void insertAccessToken(cli, {} as never, subject);
      const idToken = {
        ctx: cli,
        client: subject.client,
        userId: 'u',
        scopes: [],
        nonce: null,
        authTime: null,
      };
      // @ts-expect-error the CLI's runtime has no key store to sign id_tokens with
      void issueIdToken({ ...idToken, sid: null });
    };
    expect(cliCannotCall).toBeTypeOf('function');
  });
});
