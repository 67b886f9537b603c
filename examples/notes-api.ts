// A notes API protected by Latchkey tokens: GET /notes needs notes:read, POST /notes notes:write.
// Run: ISSUER=http://localhost:8000 RESOURCE=http://localhost:3000/ PORT=3000 \
//   [INTROSPECTION_CLIENT_ID=… INTROSPECTION_CLIENT_SECRET=…] node --import tsx examples/notes-api.ts
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import express from 'express';
import {
  authOf,
  protectedResourceMetadata,
  type RequireTokenOptions,
  requireScopes,
  requireToken,
} from '../src/resource-server/index.js';

interface Note {
  id: string;
  text: string;
  createdAt: string;
}

export function notesApi(options: RequireTokenOptions): express.Express {
  const app = express();
  // RFC 9728: clients (and people) find out which authorization server issues tokens for us.
  app.use(
    protectedResourceMetadata({
      resource: options.resource,
      authorizationServers: [options.issuer],
      scopesSupported: ['notes:read', 'notes:write'],
      resourceName: 'Notes API',
    }),
  );
  // Every /notes request needs a valid token for this resource; each route adds its scope.
  app.use('/notes', requireToken(options));

  const notes = new Map<string, Note[]>(); // by token subject (the user)
  app.get('/notes', requireScopes('notes:read'), (req, res) => {
    res.json(notes.get(authOf(req).subject ?? '') ?? []);
  });
  app.post('/notes', requireScopes('notes:write'), express.json({ limit: '8kb' }), (req, res) => {
    const text: unknown = req.body?.text;
    if (typeof text !== 'string' || text.length === 0 || text.length > 1000) {
      res.status(400).json({ error: 'text must be a string of 1 to 1000 characters' });
      return;
    }
    const note = { id: randomUUID(), text, createdAt: new Date().toISOString() };
    const owner = authOf(req).subject ?? '';
    notes.set(owner, [...(notes.get(owner) ?? []), note]);
    res.status(201).json(note);
  });
  return app;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.PORT ?? 3000);
  const id = process.env.INTROSPECTION_CLIENT_ID;
  const app = notesApi({
    issuer: process.env.ISSUER ?? 'http://localhost:8000',
    resource: process.env.RESOURCE ?? `http://localhost:${port}/`,
    introspection: id
      ? { clientId: id, clientSecret: process.env.INTROSPECTION_CLIENT_SECRET ?? '' }
      : undefined,
    onError: (err) => console.error(`notes-api: ${err.message}`),
  });
  app.listen(port, () => console.log(`notes API on http://localhost:${port}/notes`));
}
