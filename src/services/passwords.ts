import argon2 from 'argon2';
import { inSpan } from '../observability/tracing.js';
import type { BaseRuntime } from './context.js';
import { WorkGate } from './work-gate.js';

/**
 * Every argon2 computation goes through one gate per runtime (PASSWORD_HASH_CONCURRENCY running,
 * PASSWORD_HASH_QUEUE waiting; beyond that BusyError). Each costs ~250 ms of CPU and 64 MiB, and
 * anyone can ask for one by posting a login form, so an unbounded queue would be a denial of
 * service for memory and for every other request.
 */
const gates = new WeakMap<BaseRuntime, WorkGate>();

function gate(runtime: BaseRuntime): WorkGate {
  let g = gates.get(runtime);
  if (!g) {
    const { concurrency, queue } = runtime.config.passwordHashing;
    g = new WorkGate(concurrency, queue);
    gates.set(runtime, g);
  }
  return g;
}

interface HasRuntime {
  runtime: BaseRuntime;
}

/** argon2id with the library's defaults (m=64 MiB, t=3, p=4): ~250 ms here. */
export function hashPassword(ctx: HasRuntime, password: string): Promise<string> {
  return gate(ctx.runtime).run(() =>
    inSpan('argon2.hash', {}, () => argon2.hash(password, { type: argon2.argon2id })),
  );
}

/** False for a wrong password or a malformed hash; BusyError when the gate is full. */
export function verifyPassword(ctx: HasRuntime, hash: string, password: string): Promise<boolean> {
  // The span covers the computation, not the wait for a slot in the gate.
  return gate(ctx.runtime).run(() =>
    inSpan('argon2.verify', {}, async () => {
      try {
        return await argon2.verify(hash, password);
      } catch {
        return false;
      }
    }),
  );
}

let dummyHash: Promise<string> | undefined;

/** Spends the time of one verification, so an unknown username answers as slowly as a wrong password. */
export async function burnVerification(ctx: HasRuntime, password: string): Promise<void> {
  // Computed outside the gate, once per process: a refused first attempt must not poison it.
  dummyHash ??= argon2.hash('latchkey-timing-equaliser', { type: argon2.argon2id });
  await verifyPassword(ctx, await dummyHash, password);
}
