import { invalidRequest, OAuthError } from './errors.js';

/**
 * Request parameters after strict parsing: each name at most once (except `resource`, see
 * REPEATABLE), empty values omitted.
 */
export type Params = ReadonlyMap<string, string>;

const MAX_PARAMS = 100;

/** RFC 8707 §2: `resource` may be sent several times; every other parameter at most once. */
const REPEATABLE: ReadonlySet<string> = new Set(['resource']);

/** The parameters as name/value pairs again, a repeated `resource` as several pairs. */
export function paramPairs(params: Params): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of params) {
    if (REPEATABLE.has(name)) for (const v of value.split('\0')) out.push([name, v]);
    else out.push([name, value]);
  }
  return out;
}

/**
 * Parses application/x-www-form-urlencoded text the way RFC 6749 wants it read: a parameter
 * sent twice is an error (§3.1), a parameter without a value counts as omitted (§3.1),
 * malformed percent-encoding or a NUL byte is an error rather than being passed along.
 */
/** The parameters form-encoded again (a repeated `resource` as several pairs). */
export function formEncode(params: Params): string {
  return new URLSearchParams(paramPairs(params)).toString();
}

export function parseParams(text: string): Params {
  const params = new Map<string, string>();
  if (text.length === 0) return params;
  const parts = text.split('&');
  if (parts.length > MAX_PARAMS) throw invalidRequest('Too many parameters.');
  for (const part of parts) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decode(part.slice(eq + 1));
    if (name.includes('\0') || value.includes('\0'))
      throw invalidRequest('Parameters must not contain NUL characters.');
    if (value === '') continue;
    const earlier = params.get(name);
    if (earlier !== undefined && REPEATABLE.has(name)) {
      // Kept joined by NUL, which no value may contain (resource-indicators.ts splits them).
      params.set(name, `${earlier}\0${value}`);
      continue;
    }
    if (params.has(name)) throw invalidRequest(`Parameter "${clip(name)}" is included more than once.`);
    params.set(name, value);
  }
  return params;
}

function decode(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    throw invalidRequest('The request contains invalid percent-encoding.');
  }
}

function clip(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strip control characters from an echoed name
  const safe = s.replace(/[\u0000-\u001f\u007f"\\]/g, '?');
  return safe.length > 40 ? `${safe.slice(0, 37)}...` : safe;
}

/** Decodes a request body as strict UTF-8 and parses it. */
export function parseBody(body: Buffer): Params {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw invalidRequest('The request body is not valid UTF-8.');
  }
  return parseParams(text);
}

/** The space-delimited scope parameter (RFC 6749 §3.3), or undefined when absent. */
export function scopeParam(params: Params): string[] | undefined {
  const raw = params.get('scope');
  if (raw === undefined) return undefined;
  const scopes = raw.trim().split(/ +/).filter(Boolean);
  if (scopes.length === 0) return undefined;
  for (const s of scopes) {
    if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s)) {
      throw new OAuthError('invalid_scope', 'The scope parameter is malformed (RFC 6749 §3.3).');
    }
  }
  return [...new Set(scopes)];
}
