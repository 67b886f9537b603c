import type { RequestHandler } from 'express';
import helmet from 'helmet';
import type { Config } from '../config/index.js';

/**
 * Headers on every page: a CSP without inline scripts or styles, no framing (CSP
 * frame-ancestors and X-Frame-Options), no sniffing, no referrer. HSTS is not set here: the
 * server sets it on every response (`hstsHeader`). The consent page widens `form-action` to the
 * client's redirect URI (see consent).
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        'font-src': ["'self'"],
        'connect-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'none'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
}

/**
 * RFC 6797: when the issuer is https, every response (protocol endpoints, pages, assets, errors)
 * tells the browser to use https only, for two years, subdomains included. Undefined for an
 * http issuer (local development), where the header would be ignored or harmful.
 */
export function hstsHeader(config: Config): string | undefined {
  return config.issuer.startsWith('https:') ? 'max-age=63072000; includeSubDomains' : undefined;
}
