import type { Config } from '../config/index.js';
import type { ClientRecord } from '../services/client-cache.js';
import { invalidScope } from './errors.js';

/**
 * RFC 6749 §3.3: requested ⊆ the application's scopes ⊆ the server's scopes. An unknown or
 * unauthorised scope is `invalid_scope`; no scope means the application's default, which is its
 * scopes except `openid` (an OpenID Connect request must ask for it explicitly).
 */
export function resolveScopes(
  requested: string[] | undefined,
  client: ClientRecord,
  config: Config,
): string[] {
  if (requested === undefined) {
    const defaults = client.scopes.filter((s) => s !== 'openid' && Object.hasOwn(config.scopes, s));
    if (defaults.length === 0)
      throw invalidScope('No scope was requested and the application has no default scope.');
    return defaults;
  }
  for (const scope of requested) {
    if (!Object.hasOwn(config.scopes, scope)) throw invalidScope(`Unknown scope "${clip(scope)}".`);
    if (!client.scopes.includes(scope))
      throw invalidScope(`The application may not request scope "${clip(scope)}".`);
  }
  return requested;
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
