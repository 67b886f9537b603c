import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/process.js';

/**
 * `latchkey/resource-server` as an app installing Latchkey from its repository gets it: the
 * build (tsconfig.build.json's layout, declarations on) puts the entry where package.json
 * `exports` says, `files` ships it, and the compiled module loads and exports the API. Compiled
 * into test-output/ (not dist/, which `npm start` may be rebuilding in another test), and only
 * the library: if it imported anything of the authorization server, that would be compiled too.
 */

const out = path.join(ROOT, 'test-output', `package-build-${process.pid}`);
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe('package export latchkey/resource-server', () => {
  it('the build puts the export where package.json says, standalone, with types, and it loads', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const entry = pkg.exports['./resource-server'];
    expect(entry).toEqual({
      types: './dist/src/resource-server/index.d.ts',
      import: './dist/src/resource-server/index.js',
    });
    expect(pkg.files).toContain('dist/src/resource-server/');
    expect(pkg.scripts.prepare).toBe('npm run build');

    fs.mkdirSync(out, { recursive: true });
    const config = path.join(out, 'tsconfig.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        extends: path.join(ROOT, 'tsconfig.build.json'),
        compilerOptions: { outDir: path.join(out, 'dist'), sourceMap: false },
        include: [path.join(ROOT, 'src/resource-server')],
      }),
    );
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', config], {
      stdio: 'pipe',
    });
    const dist = (p: string) => path.join(out, p.replace(/^\.\//, ''));
    expect(fs.existsSync(dist(entry.import))).toBe(true);
    expect(fs.readFileSync(dist(entry.types), 'utf8')).toContain('requireToken');
    // Nothing outside src/resource-server was pulled in.
    expect(listFiles(path.join(out, 'dist')).filter((f) => !f.startsWith('src/resource-server/'))).toEqual(
      [],
    );

    const lib = await import(pathToFileURL(dist(entry.import)).href);
    for (const name of [
      'requireToken',
      'requireScopes',
      'authOf',
      'protectedResourceMetadata',
      'resourceMetadataUrl',
      'createTokenVerifier',
    ])
      expect(typeof lib[name], name).toBe('function');
  });
});
