import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { User } from '../../src/entities/User.js';
import { ConflictError, ValidationError } from '../../src/services/errors.js';
import { createUser, updateUser, verifyCredentials } from '../../src/services/users.js';
import { serviceRuntime } from '../helpers/services.js';

let env: Awaited<ReturnType<typeof serviceRuntime>>;
beforeAll(async () => {
  env = await serviceRuntime();
});
afterAll(() => env.close());

describe('users service', () => {
  it('stores passwords as argon2id hashes, never in clear', async () => {
    const user = await createUser(env.ctx(), {
      username: 'alice',
      password: 'alice-pass',
      email: 'alice@example.com',
    });
    const rows = await env.runtime.db.sql.query<{ password_hash: string }>(
      'select password_hash from users where id = $1',
      [user.id],
    );
    expect(rows[0].password_hash).toMatch(/^\$argon2id\$v=19\$/);
    expect(rows[0].password_hash).not.toContain('alice-pass');
  });

  it('verifies the right password and refuses a wrong one or an unknown user', async () => {
    expect((await verifyCredentials(env.ctx(), 'alice', 'alice-pass'))?.username).toBe('alice');
    expect(await verifyCredentials(env.ctx(), 'alice', 'wrong-pass')).toBeNull();
    expect(await verifyCredentials(env.ctx(), 'nobody', 'alice-pass')).toBeNull();
    expect(await verifyCredentials(env.ctx(), '', '')).toBeNull();
  });

  it('refuses a duplicate username with a conflict that names it', async () => {
    await expect(createUser(env.ctx(), { username: 'alice', password: 'another-pass' })).rejects.toThrow(
      ConflictError,
    );
    await expect(createUser(env.ctx(), { username: 'alice', password: 'another-pass' })).rejects.toThrow(
      'User "alice" already exists.',
    );
  });

  it.each([
    [{ username: '', password: 'long-enough' }, 'username'],
    [{ username: 'has space', password: 'long-enough' }, 'username'],
    [{ username: 'x'.repeat(151), password: 'long-enough' }, 'username'],
    [{ username: 'bob', password: 'short' }, 'password'],
    [{ username: 'bob', password: 'long-enough', email: 'not-an-email' }, 'email'],
  ])('rejects bad input %o naming field %s, and writes nothing', async (input, field) => {
    const before = await env.ctx().em.count(User);
    const err = await createUser(env.ctx(), input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    expect(await env.ctx().em.count(User)).toBe(before);
  });

  it('a disabled user cannot authenticate', async () => {
    const user = await createUser(env.ctx(), { username: 'carol', password: 'carol-pass' });
    await updateUser(env.ctx(), user.id, { isActive: false });
    expect(await verifyCredentials(env.ctx(), 'carol', 'carol-pass')).toBeNull();
    await updateUser(env.ctx(), user.id, { isActive: true });
    expect((await verifyCredentials(env.ctx(), 'carol', 'carol-pass'))?.id).toBe(user.id);
  });

  it('grants and removes the admin flag', async () => {
    const user = await createUser(env.ctx(), { username: 'dave', password: 'dave-pass', isAdmin: true });
    expect(user.isAdmin).toBe(true);
    const updated = await updateUser(env.ctx(), user.id, { isAdmin: false });
    expect(updated.isAdmin).toBe(false);
  });
});
