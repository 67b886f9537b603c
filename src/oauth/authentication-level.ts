/**
 * How strongly a session was authenticated, and when a request needs more: the one rule the
 * authorization endpoint (src/oauth/authorize.ts), its fast path (authorize-fast.ts) and the
 * id_token (src/oidc/id-token.ts) share.
 *
 * `amr` values are RFC 8176's: `pwd` (password), `otp` (TOTP or a recovery code), `hwk` / `swk`
 * (a WebAuthn credential bound to one device / synced between devices), `user` (the
 * authenticator verified the user: PIN or biometric), `mfa` (more than one factor).
 */
export const ACR = {
  /** One factor: a password. */
  password: 'urn:latchkey:acr:password',
  /** Two factors: password and TOTP / recovery code / passkey, or a user-verifying passkey alone. */
  mfa: 'urn:latchkey:acr:mfa',
} as const;

/** OIDC Discovery `acr_values_supported`. */
export const ACR_VALUES_SUPPORTED: readonly string[] = [ACR.password, ACR.mfa];

export function isMultiFactor(amr: readonly string[]): boolean {
  return amr.includes('mfa');
}

/** The `acr` an id_token states for a session's methods. */
export function acrFor(amr: readonly string[]): string {
  return isMultiFactor(amr) ? ACR.mfa : ACR.password;
}

export type FactorMethod = 'otp' | 'hwk' | 'swk';

/** The methods of a login: the password and a second factor, or a passkey alone. */
export function loginAmr(login: {
  password: boolean;
  factor?: FactorMethod;
  userVerified?: boolean;
}): string[] {
  const amr: string[] = [];
  if (login.password) amr.push('pwd');
  if (login.factor) amr.push(login.factor);
  if (login.userVerified) amr.push('user');
  const factors = (login.password ? 1 : 0) + (login.factor ? 1 : 0) + (login.userVerified ? 1 : 0);
  if (factors >= 2) amr.push('mfa');
  return amr;
}

/** What of an authorization request bears on authentication (OIDC Core §3.1.2.1). */
export interface AuthenticationAsk {
  prompt: ReadonlySet<string>;
  maxAge?: number;
  /** `acr_values`, in the order of the client's preference. */
  acrValues: readonly string[];
}

/**
 * `acr_values` is a voluntary request (OIDC Core §5.5.1.1): a second factor is demanded only
 * when every value the client accepts that Latchkey knows is the multi-factor one.
 */
export function demandsMultiFactor(ask: AuthenticationAsk): boolean {
  const known = ask.acrValues.filter((v) => ACR_VALUES_SUPPORTED.includes(v));
  return known.length > 0 && known.every((v) => v === ACR.mfa);
}

/**
 * The fast path serves only requests that say nothing about authentication: any prompt,
 * max_age or acr_values goes to the full endpoint, which applies `needsAuthentication`.
 */
export function asksAboutAuthentication(ask: AuthenticationAsk): boolean {
  return ask.prompt.size > 0 || ask.maxAge !== undefined || ask.acrValues.length > 0;
}

/**
 * Must the user log in (again) before this request is answered? `prompt=login`; a session older
 * than `max_age` (OIDC Core §3.1.2.1); or a step-up: the client demands a second factor, the
 * session was made without one, and the user has one to give (`hasFactor` is asked only then;
 * a user without a factor is answered with the single-factor `acr`, which the client can refuse).
 */
export async function needsAuthentication(
  ask: AuthenticationAsk,
  session: { authTime: Date; amr: readonly string[] },
  hasFactor: () => Promise<boolean>,
  now = Date.now(),
): Promise<boolean> {
  if (ask.prompt.has('login')) return true;
  if (ask.maxAge !== undefined && Math.floor((now - session.authTime.getTime()) / 1000) > ask.maxAge)
    return true;
  if (demandsMultiFactor(ask) && !isMultiFactor(session.amr)) return hasFactor();
  return false;
}
