import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { migrate, openDatabase } from '../../src/db/orm.js';
import type { Sql } from '../../src/db/sql.js';
import type { User } from '../../src/entities/User.js';
import { createLogger } from '../../src/log.js';
import { createApplication, deleteApplication, rotateClientSecret } from '../../src/services/applications.js';
import { type BaseRuntime, Ctx } from '../../src/services/context.js';
import { digest } from '../../src/services/secrets.js';
import { createUser, updateUser } from '../../src/services/users.js';
import { serviceRuntime } from '../helpers/services.js';

/**
 * Issue 14 (data-access rule: a change of several steps runs in one transaction on one
 * connection). A failure injected into the last step — a real trigger raising in the real
 * database, no mocks — must leave nothing half-done. On PostgreSQL the ORM and the native
 * statements used to run on two pools, so the first step committed on its own.
 */

interface Env {
  runtime: BaseRuntime;
  close(): Promise<void>;
}

async function pgliteRuntime(): Promise<Env> {
  const config = loadConfig({ NODE_ENV: 'test' });
  const db = await openDatabase(config, { inMemory: true });
  await migrate(db);
  return { runtime: { config, db, log: createLogger('silent') }, close: () => db.close() };
}

const backends: Record<string, () => Promise<Env>> = {
  postgresql: serviceRuntime,
  pglite: pgliteRuntime,
};

/** A trigger that fails the statement it guards: the "second step" breaking mid-way. */
async function failOn(sql: Sql, table: string, when: string): Promise<() => Promise<void>> {
  await sql.execute(
    `create or replace function lk_injected_failure() returns trigger language plpgsql as
     $$ begin raise exception 'injected failure'; end $$`,
  );
  await sql.execute(
    `create trigger lk_injected before insert or update on ${table}
       for each row when (${when}) execute function lk_injected_failure()`,
  );
  return async () => {
    await sql.execute(`drop trigger lk_injected on ${table}`);
  };
}

for (const [backend, open] of Object.entries(backends)) {
  describe(`Issue 14: multi-step admin changes are atomic (${backend})`, () => {
    let env: Env;
    let sql: Sql;
    const cli = () => {
      const ctx = new Ctx(env.runtime);
      ctx.actor = { kind: 'cli' };
      return ctx;
    };

    beforeAll(async () => {
      env = await open();
      sql = env.runtime.db.sql;
    });
    afterAll(() => env.close());

    /** A user with a browser session, an access token, a refresh token and a grant. */
    async function userWithTokens(username: string): Promise<{ user: User; applicationId: string }> {
      const user = await createUser(cli(), { username, password: `${username}-pass` });
      const { application } = await createApplication(cli(), user, {
        name: `${username} app`,
        clientType: 'confidential',
        grantTypes: ['authorization_code'],
        redirectUris: ['https://app.example.com/cb'],
      });
      await sql.execute(
        `insert into sessions (id, token_digest, user_id, auth_time, expires_at, absolute_expires_at)
         values ($1, $2, $3, now(), now() + interval '1 hour', now() + interval '1 day')`,
        [randomUUID(), randomBytes(32), user.id],
      );
      await sql.execute(
        `insert into access_tokens (id, token_digest, application_id, user_id, scopes, expires_at)
         values ($1, $2, $3, $4, '{read}', now() + interval '1 hour')`,
        [randomUUID(), randomBytes(32), application.id, user.id],
      );
      await sql.execute(
        `insert into refresh_tokens (id, token_digest, application_id, user_id, family_id, scopes, expires_at)
         values ($1, $2, $3, $4, $5, '{read}', now() + interval '1 day')`,
        [randomUUID(), randomBytes(32), application.id, user.id, randomUUID()],
      );
      await sql.execute(
        `insert into grants (id, user_id, application_id, scopes) values ($1, $2, $3, '{read}')`,
        [randomUUID(), user.id, application.id],
      );
      return { user, applicationId: application.id };
    }

    async function state(userId: string) {
      const [row] = await sql.query<{
        is_active: boolean;
        sessions: number;
        live_access: number;
        live_refresh: number;
        live_grants: number;
      }>(
        `select u.is_active,
                (select count(*)::int from sessions s where s.user_id = u.id) as sessions,
                (select count(*)::int from access_tokens t where t.user_id = u.id and t.revoked_at is null) as live_access,
                (select count(*)::int from refresh_tokens r where r.user_id = u.id and r.revoked_at is null) as live_refresh,
                (select count(*)::int from grants g where g.user_id = u.id and g.revoked_at is null) as live_grants
           from users u where u.id = $1`,
        [userId],
      );
      return row;
    }

    it('disabling a user whose grant revocation fails leaves the user active with sessions and tokens as they were; retried, all of it ends together', async () => {
      const { user } = await userWithTokens('dana');
      const before = await state(user.id);
      expect(before).toEqual({
        is_active: true,
        sessions: 1,
        live_access: 1,
        live_refresh: 1,
        live_grants: 1,
      });
      const heal = await failOn(sql, 'grants', 'new.revoked_at is not null');
      await expect(updateUser(cli(), user.id, { isActive: false })).rejects.toThrow(/injected failure/);
      await heal();
      // Not "disabled but tokens live", not "sessions gone but still active": nothing happened.
      expect(await state(user.id)).toEqual(before);
      expect(
        await sql.query("select 1 from audit_events where action = 'user.update' and target_id = $1", [
          user.id,
        ]),
      ).toHaveLength(0);

      await updateUser(cli(), user.id, { isActive: false });
      expect(await state(user.id)).toEqual({
        is_active: false,
        sessions: 0,
        live_access: 0,
        live_refresh: 0,
        live_grants: 0,
      });
    });

    it('a failed update does not linger in the request’s EntityManager: a later flush on the same context writes nothing of it', async () => {
      const { user } = await userWithTokens('erin');
      const ctx = cli();
      const heal = await failOn(sql, 'audit_events', "new.action = 'user.update'");
      await expect(updateUser(ctx, user.id, { isAdmin: true })).rejects.toThrow(/injected failure/);
      await heal();
      await ctx.em.flush();
      const [row] = await sql.query<{ is_admin: boolean }>('select is_admin from users where id = $1', [
        user.id,
      ]);
      expect(row.is_admin).toBe(false);
    });

    it('deleting an application whose audit event fails leaves the application, its grants and tokens in place', async () => {
      const { user, applicationId } = await userWithTokens('fred');
      const heal = await failOn(sql, 'audit_events', "new.action = 'application.delete'");
      await expect(deleteApplication(cli(), applicationId)).rejects.toThrow(/injected failure/);
      await heal();
      expect(await sql.query('select 1 from applications where id = $1', [applicationId])).toHaveLength(1);
      expect(await state(user.id)).toMatchObject({ live_access: 1, live_refresh: 1, live_grants: 1 });

      await deleteApplication(cli(), applicationId);
      expect(await sql.query('select 1 from applications where id = $1', [applicationId])).toHaveLength(0);
      expect(
        await sql.query('select 1 from access_tokens where application_id = $1', [applicationId]),
      ).toHaveLength(0);
    });

    it('rotating a secret whose audit event fails keeps the old secret working (RFC 6749 §2.3.1: exactly one secret is valid)', async () => {
      const owner = await createUser(cli(), { username: 'gina', password: 'gina-pass' });
      const { application, clientSecret } = await createApplication(cli(), owner, {
        name: 'Rotating',
        clientType: 'confidential',
        grantTypes: ['client_credentials'],
      });
      const stored = async () =>
        Buffer.from(
          (
            await sql.query<{ d: Uint8Array }>(
              'select client_secret_digest as d from applications where id = $1',
              [application.id],
            )
          )[0].d,
        );
      const heal = await failOn(sql, 'audit_events', "new.action = 'application.rotate_secret'");
      await expect(rotateClientSecret(cli(), application.id)).rejects.toThrow(/injected failure/);
      await heal();
      expect((await stored()).equals(digest(clientSecret!))).toBe(true);

      const rotated = await rotateClientSecret(cli(), application.id);
      expect((await stored()).equals(digest(rotated.clientSecret!))).toBe(true);
    });
  });
}
