import fs from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';

type Template = Handlebars.TemplateDelegate;

/**
 * A small Handlebars view engine for Express: `views/<name>.hbs` rendered into
 * `views/layouts/main.hbs` (as `{{{body}}}`), with every `views/partials/*.hbs` registered.
 * Templates compile once (and again when the file changes in development).
 */
export function createViewEngine(viewsDir: string, opts: { cache: boolean }) {
  const hbs = Handlebars.create();
  registerHelpers(hbs);
  const compiled = new Map<string, { template: Template; mtime: number }>();

  const load = (file: string): Template => {
    const mtime = opts.cache ? 0 : fs.statSync(file).mtimeMs;
    const hit = compiled.get(file);
    if (hit && hit.mtime === mtime) return hit.template;
    const template = hbs.compile(fs.readFileSync(file, 'utf8'), { strict: false, noEscape: false });
    compiled.set(file, { template, mtime });
    return template;
  };

  const registerPartials = () => {
    const dir = path.join(viewsDir, 'partials');
    for (const f of fs.readdirSync(dir)) {
      if (f.endsWith('.hbs')) hbs.registerPartial(f.slice(0, -4), fs.readFileSync(path.join(dir, f), 'utf8'));
    }
  };
  registerPartials();

  return (file: string, data: object, callback: (err: Error | null, html?: string) => void) => {
    try {
      if (!opts.cache) registerPartials();
      const body = load(file)(data);
      const name = (data as { layout?: unknown }).layout;
      const layout = load(path.join(viewsDir, 'layouts', `${typeof name === 'string' ? name : 'main'}.hbs`));
      callback(null, layout({ ...data, body }));
    } catch (err) {
      callback(err as Error);
    }
  };
}

function registerHelpers(hbs: typeof Handlebars) {
  hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hbs.registerHelper(
    'includes',
    (list: unknown, item: unknown) => Array.isArray(list) && list.includes(item),
  );
  hbs.registerHelper('join', (list: unknown, sep: unknown) =>
    Array.isArray(list) ? list.join(typeof sep === 'string' ? sep : ', ') : '',
  );
  hbs.registerHelper('lines', (list: unknown) => (Array.isArray(list) ? list.join('\n') : ''));
  hbs.registerHelper('date', (value: unknown) => {
    if (!(value instanceof Date)) return '';
    return value.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  });
}
