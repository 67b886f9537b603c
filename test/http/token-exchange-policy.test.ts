import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApplication } from '../../src/services/applications.js';
import { createResource } from '../../src/services/resources.js';
import { createUser, findUserByUsername } from '../../src/services/users.js';
import { type Auth, codeOf, gql } from '../helpers/graphql.js';
import { Agent, hiddenInputs } from '../helpers/http.js';
import { runCli } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The RFC 8693 token exchange policy of an application (tokenExchangeAudiences,
 * tokenExchangeImpersonation, tokenExchangeRefreshTokens): set through GraphQL, the CLI and the
 * application form; only administrators widen it, the audiences are registered resources, and it
 * needs the TOKEN_EXCHANGE grant type.
 */

const API = 'https://policy-api.example.com/';
const OTHER = 'https://policy-other.example.com/';

let server: TestServer;
let admin: Auth;
let owner: Auth;
let ownerAgent: Agent;
let adminAgent: Agent;

const FIELDS = 'id grantTypes tokenExchangeAudiences tokenExchangeImpersonation tokenExchangeRefreshTokens';
const CREATE = `mutation($input: CreateApplicationInput!) { createApplication(input: $input) { application { ${FIELDS} } } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateApplicationInput!) { updateApplication(id: $id, input: $input) { ${FIELDS} } }`;
const READ = `query($id: ID!) { application(id: $id) { ${FIELDS} } }`;

beforeAll(async () => {
  server = await startTestServer();
  const cli = server.cli();
  await createResource(cli, { identifier: API, name: 'Policy API' });
  await createResource(cli, { identifier: OTHER, name: 'Other API' });
  await createUser(cli, { username: 'root', password: 'root-password', isAdmin: true });
  await createUser(cli, { username: 'olive', password: 'olive-password' });
  adminAgent = new Agent(server.url);
  await adminAgent.login('root', 'root-password');
  admin = { cookie: adminAgent.cookieHeader() };
  ownerAgent = new Agent(server.url);
  await ownerAgent.login('olive', 'olive-password');
  owner = { cookie: ownerAgent.cookieHeader() };
});
afterAll(() => server?.stop());

const machineApp = (extra: Record<string, unknown> = {}) => ({
  name: 'Exchanger',
  clientType: 'CONFIDENTIAL',
  grantTypes: ['CLIENT_CREDENTIALS', 'TOKEN_EXCHANGE'],
  ...extra,
});

describe('GraphQL (RFC 8693 policy fields)', () => {
  it('RFC 8693 §2.1: a new application’s policy is empty: no audience, delegation only, no refresh tokens', async () => {
    const res = await gql(server, owner, CREATE, { input: machineApp() });
    expect(res.errors).toBeUndefined();
    const app = (res.data!.createApplication as { application: Record<string, unknown> }).application;
    expect(app).toMatchObject({
      grantTypes: ['CLIENT_CREDENTIALS', 'TOKEN_EXCHANGE'],
      tokenExchangeAudiences: [],
      tokenExchangeImpersonation: false,
      tokenExchangeRefreshTokens: false,
    });
  });

  it('RFC 8693 §2.2.2: a non-admin owner cannot widen the policy (BAD_USER_INPUT per field); an admin can', async () => {
    const created = await gql(server, owner, CREATE, { input: machineApp() });
    const id = (created.data!.createApplication as { application: { id: string } }).application.id;
    for (const input of [
      { tokenExchangeAudiences: [API] },
      { tokenExchangeImpersonation: true },
      {
        tokenExchangeRefreshTokens: true,
        grantTypes: ['AUTHORIZATION_CODE', 'REFRESH_TOKEN', 'TOKEN_EXCHANGE'],
      },
    ]) {
      const res = await gql(server, owner, UPDATE, { id, input });
      expect(codeOf(res), JSON.stringify(input)).toBe('BAD_USER_INPUT');
    }
    const byAdmin = await gql(server, admin, UPDATE, {
      id,
      input: { tokenExchangeAudiences: [API, OTHER], tokenExchangeImpersonation: true },
    });
    expect(byAdmin.errors).toBeUndefined();
    expect(byAdmin.data?.updateApplication).toMatchObject({
      tokenExchangeAudiences: [API, OTHER],
      tokenExchangeImpersonation: true,
    });
    // The owner reads the policy, edits other fields without losing it, and may narrow it.
    const read = await gql(server, owner, READ, { id });
    expect(read.data?.application).toMatchObject({ tokenExchangeAudiences: [API, OTHER] });
    const renamed = await gql(server, owner, UPDATE, { id, input: { name: 'Renamed' } });
    expect(renamed.data?.updateApplication).toMatchObject({ tokenExchangeAudiences: [API, OTHER] });
    const narrowed = await gql(server, owner, UPDATE, {
      id,
      input: { tokenExchangeAudiences: [API], tokenExchangeImpersonation: false },
    });
    expect(narrowed.errors).toBeUndefined();
    expect(narrowed.data?.updateApplication).toMatchObject({
      tokenExchangeAudiences: [API],
      tokenExchangeImpersonation: false,
    });
    const widenedAgain = await gql(server, owner, UPDATE, {
      id,
      input: { tokenExchangeAudiences: [API, OTHER] },
    });
    expect(codeOf(widenedAgain)).toBe('BAD_USER_INPUT');
  });

  it('RFC 8707 §2: audiences must be registered resources, and the policy needs the TOKEN_EXCHANGE grant', async () => {
    const unknown = await gql(server, admin, CREATE, {
      input: machineApp({ tokenExchangeAudiences: ['https://unregistered.example.com/'] }),
    });
    expect(codeOf(unknown)).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(unknown.errors)).toContain('tokenExchangeAudiences');
    const noGrant = await gql(server, admin, CREATE, {
      input: machineApp({ grantTypes: ['CLIENT_CREDENTIALS'], tokenExchangeAudiences: [API] }),
    });
    expect(codeOf(noGrant)).toBe('BAD_USER_INPUT');
    const noRefreshGrant = await gql(server, admin, CREATE, {
      input: machineApp({ tokenExchangeAudiences: [API], tokenExchangeRefreshTokens: true }),
    });
    expect(codeOf(noRefreshGrant)).toBe('BAD_USER_INPUT');
    const tooMany = await gql(server, admin, CREATE, {
      input: machineApp({
        tokenExchangeAudiences: Array.from({ length: 25 }, (_, i) => `https://x${i}.example/`),
      }),
    });
    expect(codeOf(tooMany)).toBe('BAD_USER_INPUT');
  });

  it('RFC 8693 §5: a public client cannot have the TOKEN_EXCHANGE grant type', async () => {
    const res = await gql(server, admin, CREATE, {
      input: {
        name: 'SPA',
        clientType: 'PUBLIC',
        grantTypes: ['AUTHORIZATION_CODE', 'TOKEN_EXCHANGE'],
        redirectUris: ['https://spa.example.com/cb'],
      },
    });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
  });

  it('RFC 8693: anonymous callers read no policy (UNAUTHENTICATED)', async () => {
    const created = await gql(server, admin, CREATE, {
      input: machineApp({ tokenExchangeAudiences: [API] }),
    });
    const id = (created.data!.createApplication as { application: { id: string } }).application.id;
    expect(codeOf(await gql(server, null, READ, { id }))).toBe('UNAUTHENTICATED');
    // Another non-admin user does not see it at all.
    await createUser(server.cli(), { username: 'stranger', password: 'stranger-password' });
    const s = new Agent(server.url);
    await s.login('stranger', 'stranger-password');
    const seen = await gql(server, { cookie: s.cookieHeader() }, READ, { id });
    expect(seen.data?.application ?? null).toBeNull();
  });
});

describe('CLI (create-application --token-exchange-*)', () => {
  it('RFC 8693: --grant-types token_exchange with --token-exchange-audiences and --token-exchange-impersonation', async () => {
    const env = { DATABASE_URL: server.database!.url };
    const res = await runCli(
      [
        'create-application',
        '--owner',
        'olive',
        '--name',
        'CLI exchanger',
        '--client-type',
        'confidential',
        '--grant-types',
        'client_credentials,token_exchange',
        '--token-exchange-audiences',
        `${API},${OTHER}`,
        '--token-exchange-impersonation',
      ],
      env,
    );
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout.trim().split('\n').at(-1)!);
    expect(out.grant_types).toContain('urn:ietf:params:oauth:grant-type:token-exchange');
    expect(out.token_exchange).toEqual({
      audiences: [API, OTHER],
      impersonation: true,
      refresh_tokens: false,
    });

    const bad = await runCli(
      [
        'create-application',
        '--owner',
        'olive',
        '--name',
        'Bad',
        '--client-type',
        'confidential',
        '--grant-types',
        'client_credentials,token_exchange',
        '--token-exchange-audiences',
        'https://not-registered.example.com/',
      ],
      env,
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('registered resources');
  });
});

describe('application form (/o/applications/)', () => {
  it('RFC 8693: an administrator sets the policy on the form; the owner’s form neither shows nor clears it', async () => {
    const page = await adminAgent.get('/o/applications/register/');
    expect(page.status).toBe(200);
    expect(page.text).toContain('name="token_exchange_audiences"');
    const form = hiddenInputs(page.text);
    const posted = await adminAgent.post('/o/applications/register/', {
      ...form,
      name: 'Form exchanger',
      client_type: 'confidential',
      grant_types: 'urn:ietf:params:oauth:grant-type:token-exchange',
      token_exchange_audiences: API,
      token_exchange_impersonation: 'on',
      scopes: 'read',
    });
    expect(posted.status, posted.text.match(/class="(?:field-)?error[^>]*>[^<]*/g)?.join(' ')).toBe(303);
    const detailPath = new URL(String(posted.location), server.url).pathname;
    const detail = await adminAgent.get(detailPath);
    expect(detail.text).toContain(API);
    expect(detail.text).toContain('impersonation allowed');

    const ownerForm = await ownerAgent.get('/o/applications/register/');
    expect(ownerForm.text).not.toContain('name="token_exchange_audiences"');

    // The owner edits an application an administrator gave a policy: the policy stays.
    const olive = await findUserByUsername(server.cli(), 'olive');
    const { application } = await createApplication(server.cli(), olive!, {
      name: 'Olive exchanger',
      clientType: 'confidential',
      grantTypes: ['urn:ietf:params:oauth:grant-type:token-exchange'],
      scopes: ['read'],
      tokenExchangeAudiences: [API],
      tokenExchangeImpersonation: true,
    });
    const edit = await ownerAgent.get(`/o/applications/${application.id}/update/`);
    expect(edit.status).toBe(200);
    expect(edit.text).not.toContain('name="token_exchange_audiences"');
    const saved = await ownerAgent.post(`/o/applications/${application.id}/update/`, {
      ...hiddenInputs(edit.text),
      name: 'Olive exchanger, renamed',
      client_type: 'confidential',
      grant_types: 'urn:ietf:params:oauth:grant-type:token-exchange',
      scopes: 'read',
      // A forged field without the administrator's form marker is ignored.
      token_exchange_audiences: OTHER,
    });
    expect(saved.status).toBe(303);
    const after = await gql(server, owner, READ, { id: application.id });
    expect(after.data?.application).toMatchObject({
      tokenExchangeAudiences: [API],
      tokenExchangeImpersonation: true,
    });
    // With the marker, the owner's widening is refused like in GraphQL.
    const forged = await ownerAgent.post(`/o/applications/${application.id}/update/`, {
      ...hiddenInputs((await ownerAgent.get(`/o/applications/${application.id}/update/`)).text),
      name: 'Olive exchanger',
      client_type: 'confidential',
      grant_types: 'urn:ietf:params:oauth:grant-type:token-exchange',
      scopes: 'read',
      token_exchange_policy: '1',
      token_exchange_audiences: `${API} ${OTHER}`,
      token_exchange_impersonation: 'on',
    });
    expect(forged.status).toBe(400);
    expect(forged.text).toContain('Only administrators can add token exchange audiences.');
  });
});
