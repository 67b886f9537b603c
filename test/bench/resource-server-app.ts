/**
 * The resource server of `npm run bench:resource-server`, in its own process (the load
 * generator must not share its event loop): one Express app, an unprotected route and the same
 * route behind requireToken in each mode. Configured by the environment; prints `ready` once
 * listening.
 */
import express from 'express';
import {
  authOf,
  type RequireTokenOptions,
  requireScopes,
  requireToken,
} from '../../src/resource-server/index.js';

const env = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};
const issuer = env('ISSUER');
const introspection = {
  clientId: env('INTROSPECTION_CLIENT_ID'),
  clientSecret: env('INTROSPECTION_CLIENT_SECRET'),
};
const jwt: RequireTokenOptions = { issuer, resource: env('JWT_RESOURCE'), mode: 'jwt' };
const opaque: RequireTokenOptions = {
  issuer,
  resource: env('OPAQUE_RESOURCE'),
  mode: 'introspection',
  introspection,
};

const app = express();
const answer = (req: express.Request, res: express.Response) => void res.json({ sub: authOf(req).subject });
app.get('/open', (_req, res) => void res.json({ sub: 'anonymous' }));
// The bench reads this process's CPU time around each load: CPU per request is what a route
// costs at its own speed, and drifts far less than req/s when other processes share the machine.
app.get('/cpu', (_req, res) => {
  const { user, system } = process.cpuUsage();
  res.json({ micros: user + system });
});
app.get('/jwt', requireToken(jwt), requireScopes('read'), answer);
app.get('/jwt-uncached', requireToken({ ...jwt, jwtCacheSeconds: 0 }), requireScopes('read'), answer);
app.get('/introspection', requireToken(opaque), requireScopes('read'), answer);
app.get(
  '/introspection-uncached',
  requireToken({ ...opaque, introspectionCacheSeconds: 0 }),
  requireScopes('read'),
  answer,
);
app.listen(Number(env('PORT')), '127.0.0.1', () => console.log('ready'));
