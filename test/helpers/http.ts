import { remember } from './ledger.js';

/**
 * A tiny HTTP user agent for tests: a cookie jar, no automatic redirects, form helpers.
 */
export class Agent {
  readonly cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private store(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(
    method: string,
    path: string,
    init: { body?: string | URLSearchParams; headers?: Record<string, string> } = {},
  ) {
    const url = new URL(path, this.base);
    const headers: Record<string, string> = { Accept: 'text/html', ...init.headers };
    const cookie = this.cookieHeader();
    if (cookie) headers.Cookie = cookie;
    let body: string | undefined;
    if (init.body instanceof URLSearchParams) {
      body = init.body.toString();
      headers['Content-Type'] ??= 'application/x-www-form-urlencoded';
    } else {
      body = init.body;
    }
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    this.store(res);
    const text = await res.text();
    for (const m of text.matchAll(/id="client-secret" type="text" readonly value="([^"]+)"/g))
      remember('client_secret', m[1]);
    if (init.body instanceof URLSearchParams) remember('password', init.body.get('password'));
    const location = res.headers.get('location');
    if (location) remember('code', new URL(location, this.base).searchParams.get('code'));
    return {
      status: res.status,
      headers: res.headers,
      text,
      location: res.headers.get('location') ?? undefined,
    };
  }

  get(path: string, headers?: Record<string, string>) {
    return this.request('GET', path, { headers });
  }

  post(path: string, form: Record<string, string>, headers?: Record<string, string>) {
    return this.request('POST', path, { body: new URLSearchParams(form), headers });
  }

  /** GET a page, read its form's hidden fields (CSRF and friends), POST them with `fields`. */
  async submitForm(path: string, fields: Record<string, string>, formAction?: string) {
    const page = await this.get(path);
    const hidden = hiddenInputs(page.text, formAction);
    return this.post(formAction ?? path, { ...hidden, ...fields });
  }

  /** Logs in through the login page; throws unless it redirects. */
  async login(username: string, password: string, next = '/') {
    remember('password', password);
    const res = await this.submitForm(
      `/accounts/login/?next=${encodeURIComponent(next)}`,
      { username, password },
      '/accounts/login/',
    );
    if (res.status !== 303) throw new Error(`login failed: ${res.status} ${res.text.slice(0, 200)}`);
    return res;
  }
}

/** The hidden inputs of the first form (or the form posting to `action`). */
export function hiddenInputs(html: string, action?: string): Record<string, string> {
  const forms = [...html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/g)];
  const form = action ? (forms.find((f) => f[0].includes(`action="${action}"`)) ?? forms[0]) : forms[0];
  const out: Record<string, string> = {};
  if (!form) return out;
  for (const m of form[1].matchAll(/<input\b[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(m[0])?.[1];
    const value = /value="([^"]*)"/.exec(m[0])?.[1] ?? '';
    if (name) out[name] = decodeEntities(value);
  }
  return out;
}

export function decodeEntities(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#x27;/g, "'")
    .replace(/&#x3D;/g, '=')
    .replace(/&#x60;/g, '`')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

export function basic(clientId: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}`;
}
