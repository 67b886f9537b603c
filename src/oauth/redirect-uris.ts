import { isLoopbackHost } from '../services/validators.js';

/**
 * Is `requested` one of the registered redirect URIs? Exact string comparison (RFC 6749 §3.1.2.3,
 * OAuth 2.1 §2.3.1), except that for http loopback URIs the port may differ (RFC 8252 §7.3):
 * native apps listen on whatever port the OS gives them.
 */
export function matchRedirectUri(requested: string, registered: readonly string[]): boolean {
  if (registered.includes(requested)) return true;
  const req = loopbackWithoutPort(requested);
  if (!req) return false;
  return registered.some((r) => loopbackWithoutPort(r) === req);
}

function loopbackWithoutPort(uri: string): string | undefined {
  if (!uri.startsWith('http://')) return undefined;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (!isLoopbackHost(url.hostname)) return undefined;
  // Compare everything but the port, on the URI as written (no normalisation beyond the port).
  const withoutPort = uri.replace(/^(http:\/\/(?:\[[^\]]+\]|[^/:?#]+))(?::\d+)?/, '$1');
  return withoutPort;
}
