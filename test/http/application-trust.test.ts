import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { type Auth, codeOf, gql } from '../helpers/graphql.js';
import { Agent } from '../helpers/http.js';
import { authorizePath, pkce } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Review 13.2: trust an admin gives ("skip the consent page") covers exactly what the admin
 * saw. The attack: a non-admin owner, whose application an admin trusted, adds the `graphql`
 * scope and their own redirect URI; one top-level GET by the admin's browser must not hand the
 * owner a code for an admin-level API token without a page.
 */
let server: TestServer;
let adminAgent: Agent;
let admin: Auth;
let mallory: Auth;

const UPDATE = `mutation($id: ID!, $input: UpdateApplicationInput!) {
  updateApplication(id: $id, input: $input) { id skipAuthorization scopes redirectUris }
}`;

beforeAll(async () => {
  server = await startTestServer();
  const cli = server.cli();
  await createUser(cli, { username: 'mallory', password: 'mallory-pass' });
  await createUser(cli, { username: 'root', password: 'root-password', isAdmin: true });
  adminAgent = new Agent(server.url);
  await adminAgent.login('root', 'root-password');
  admin = { cookie: adminAgent.cookieHeader() };
  const m = new Agent(server.url);
  await m.login('mallory', 'mallory-pass');
  mallory = { cookie: m.cookieHeader() };
});
afterAll(() => server?.stop());

describe('skip-consent trust (Review 13.2)', () => {
  it('RFC 9700 §2.1 / RFC 6749 §10.2: after the owner adds graphql and their own redirect URI, the admin gets the consent page (200), not a 302 with a code', async () => {
    const created = await gql(
      server,
      mallory,
      `mutation($input: CreateApplicationInput!) { createApplication(input: $input) { application { id clientId } } }`,
      {
        input: {
          name: 'Harmless helper',
          clientType: 'PUBLIC',
          grantTypes: ['AUTHORIZATION_CODE'],
          redirectUris: ['https://helper.example/cb'],
          scopes: ['read'],
        },
      },
    );
    const app = (created.data!.createApplication as { application: { id: string; clientId: string } })
      .application;
    const trusted = await gql(server, admin, UPDATE, { id: app.id, input: { skipAuthorization: true } });
    expect((trusted.data!.updateApplication as { skipAuthorization: boolean }).skipAuthorization).toBe(true);

    // What the admin approved still skips consent.
    const before = pkce();
    const fine = await adminAgent.get(
      authorizePath({
        response_type: 'code',
        client_id: app.clientId,
        redirect_uri: 'https://helper.example/cb',
        scope: 'read',
        code_challenge: before.challenge,
        code_challenge_method: 'S256',
      }),
    );
    expect(fine.status).toBe(302);
    expect(fine.location).toMatch(/^https:\/\/helper\.example\/cb\?code=/);

    const widened = await gql(server, mallory, UPDATE, {
      id: app.id,
      input: {
        scopes: ['read', 'graphql'],
        redirectUris: ['https://helper.example/cb', 'https://mallory.example/steal'],
      },
    });
    expect(widened.errors).toBeUndefined();
    expect((widened.data!.updateApplication as { skipAuthorization: boolean }).skipAuthorization).toBe(false);

    const { challenge } = pkce();
    const res = await adminAgent.get(
      authorizePath({
        response_type: 'code',
        client_id: app.clientId,
        redirect_uri: 'https://mallory.example/steal',
        scope: 'graphql',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
    );
    expect(res.status).toBe(200);
    expect(res.location).toBeUndefined();
    expect(res.text).toContain('name="consent_request"');

    // The owner cannot put the trust back.
    const again = await gql(server, mallory, UPDATE, { id: app.id, input: { skipAuthorization: true } });
    expect(codeOf(again)).toBe('BAD_USER_INPUT');
    expect(again.errors![0].extensions!.field).toBe('skipAuthorization');

    const audit = await gql(
      server,
      admin,
      `{ auditEvents(filter: {action: "application.skip_authorization_cleared"}) { edges { node { action targetId } } } }`,
    );
    const events = (audit.data?.auditEvents as { edges: Array<{ node: { targetId: string } }> } | undefined)
      ?.edges;
    expect(events?.map((e) => e.node.targetId)).toEqual([app.id]);
  });
});
