import { parse, serialize } from 'cookie';
import type { Request, Response } from 'express';
import type { Config } from '../config/index.js';

/**
 * Cookie names and attributes in one place: HttpOnly, SameSite=Lax, Path=/, and Secure with the
 * `__Host-` prefix when the issuer is https (the browser then refuses any Domain or non-secure
 * overwrite).
 */
export function cookieName(config: Config, base: 'session' | 'csrf' | 'secret' | 'pending'): string {
  return `${config.secureCookies ? '__Host-' : ''}lk_${base}`;
}

export function readCookie(req: Pick<Request, 'headers'>, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header || header.length > 8192) return undefined;
  try {
    return parse(header)[name];
  } catch {
    return undefined;
  }
}

export function setCookie(
  res: Response,
  config: Config,
  name: string,
  value: string,
  maxAgeSeconds?: number,
): void {
  res.append(
    'Set-Cookie',
    serialize(name, value, {
      httpOnly: true,
      sameSite: 'lax',
      secure: config.secureCookies,
      path: '/',
      ...(maxAgeSeconds !== undefined ? { maxAge: maxAgeSeconds } : {}),
    }),
  );
}

export function clearCookie(res: Response, config: Config, name: string): void {
  res.append(
    'Set-Cookie',
    serialize(name, '', {
      httpOnly: true,
      sameSite: 'lax',
      secure: config.secureCookies,
      path: '/',
      maxAge: 0,
    }),
  );
}
