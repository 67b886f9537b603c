import { afterAll, beforeAll, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.stop());
it('explore', async () => {
  for (const body of [
    { query: '{ viewer { ...Missing } }' },
    { query: '{ ...Missing }' },
    { query: 'mutation { rotateSigningKey { kid ...K } }' },
    { query: 'query { viewer { id } } fragment F on User { ...G }' },
  ]) {
    const res = await fetch(new URL('/graphql', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    console.log('CASE', JSON.stringify(body), res.status, (await res.text()).slice(0, 200));
  }
});
