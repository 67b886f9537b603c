import fs from 'node:fs';
import path from 'node:path';

/**
 * The project directory (where package.json is), found from this file whether it runs from
 * src/ (tsx, tests) or from the compiled dist/src/.
 */
function findRoot(from: string): string {
  let dir = from;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`package.json not found above ${from}`);
    dir = parent;
  }
  return dir;
}

export const ROOT_DIR = findRoot(import.meta.dirname);
export const VIEWS_DIR = path.join(ROOT_DIR, 'views');
export const MIGRATIONS_DIR = path.join(ROOT_DIR, 'migrations');
