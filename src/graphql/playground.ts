import { createRequire } from 'node:module';
import path from 'node:path';
import { Router } from 'express';

const require = createRequire(import.meta.url);

/**
 * GraphiQL and React from the installed packages: the playground works offline, no CDN. A Map,
 * so a name from the URL (`constructor`, `__proto__`) finds only these files.
 */
const VENDOR = new Map<string, string>(
  Object.entries({
    'react.js': path.join(path.dirname(require.resolve('react/package.json')), 'umd/react.production.min.js'),
    'react-dom.js': path.join(
      path.dirname(require.resolve('react-dom/package.json')),
      'umd/react-dom.production.min.js',
    ),
    'graphiql.js': path.join(path.dirname(require.resolve('graphiql/package.json')), 'graphiql.min.js'),
    'graphiql.css': path.join(path.dirname(require.resolve('graphiql/package.json')), 'graphiql.min.css'),
  }),
);

/**
 * GET /graphql in a browser: GraphiQL, talking to /graphql with the session cookie. Its
 * scripts are files (no inline script), so the page keeps the site's CSP except that GraphiQL
 * needs inline styles for its editor.
 */
export function playgroundRouter(): Router {
  const router = Router();
  router.get('/static/vendor/:file', (req, res, next) => {
    const file = VENDOR.get(req.params.file);
    if (!file) {
      next();
      return;
    }
    res.sendFile(file, { maxAge: '1d', headers: { 'X-Content-Type-Options': 'nosniff' } });
  });
  router.get('/graphql', (req, res) => {
    const csp = res.get('Content-Security-Policy') ?? '';
    res.set('Content-Security-Policy', csp.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"));
    res.render('playground', {
      title: 'API playground',
      layout: 'bare',
      loggedIn: Boolean(req.browserSession),
    });
  });
  return router;
}
