import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { z } from 'zod';
import {
  advanceCounter,
  type ChallengePurpose,
  credentialById,
  credentialsOf,
  hasFactor,
  insertChallenge,
  insertCredential,
  takeChallenge,
} from '../db/tables/factors.js';
import { type FactorMethod, loginAmr } from '../oauth/authentication-level.js';
import { requireUser } from './access.js';
import { recordAudit } from './audit.js';
import type { Ctx } from './context.js';
import { TooManyAttemptsError, ValidationError } from './errors.js';
import { issueRecoveryCodes } from './factors.js';
import { countAttempt, limitAddress } from './limits.js';
import { digest } from './secrets.js';

/**
 * Passkeys and security keys (WebAuthn Level 2) through @simplewebauthn/server. The relying
 * party is the issuer: its host is the RP ID, its origin the only expected origin. Every
 * ceremony's challenge is stored server-side (by digest), taken by the first response that
 * names it — whatever the verification then says — and dead after CHALLENGE_TTL.
 */
const CHALLENGE_TTL = 300;

function relyingParty(ctx: Ctx): { rpID: string; origin: string } {
  const url = new URL(ctx.config.issuer);
  return { rpID: url.hostname, origin: url.origin };
}

async function rememberChallenge(
  ctx: Ctx,
  challenge: string,
  purpose: ChallengePurpose,
  userId: string | null,
): Promise<void> {
  await insertChallenge(ctx.sql, { digest: digest(challenge), purpose, userId, ttlSeconds: CHALLENGE_TTL });
}

const credentialShape = z.object({
  id: z.string().min(1).max(1400),
  rawId: z.string().min(1).max(1400),
  type: z.literal('public-key'),
  response: z.object({ clientDataJSON: z.string().min(1).max(4000) }).passthrough(),
  clientExtensionResults: z.object({}).passthrough().optional(),
  authenticatorAttachment: z.string().max(40).optional(),
});

/** The browser's answer, as the form carried it; ValidationError for anything that is not one. */
function parseCredential<T>(json: string | undefined): T & { response: { clientDataJSON: string } } {
  const fail = () => new ValidationError('credential', 'The passkey answer could not be read. Try again.');
  if (!json || json.length > 16_000) throw fail();
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw fail();
  }
  const parsed = credentialShape.safeParse(value);
  if (!parsed.success) throw fail();
  return { clientExtensionResults: {}, ...(value as object) } as unknown as T & {
    response: { clientDataJSON: string };
  };
}

/**
 * Takes the challenge the client data names, for this purpose (and user, unless passwordless).
 * Throws a readable error for a challenge that is unknown, already used, expired or another's.
 */
async function takeChallengeOf(
  ctx: Ctx,
  clientDataJSON: string,
  purpose: ChallengePurpose,
  userId: string | null,
): Promise<{ challenge: string; userId: string | null }> {
  let challenge: unknown;
  try {
    challenge = (
      JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown }
    ).challenge;
  } catch {
    challenge = undefined;
  }
  const stale = () =>
    new ValidationError('credential', 'This passkey request has expired or was already used. Try again.');
  if (typeof challenge !== 'string' || challenge.length > 200) throw stale();
  const taken = await takeChallenge(ctx.sql, digest(challenge), purpose);
  if (!taken?.live) throw stale();
  if (userId !== null && taken.userId !== userId) throw stale();
  return { challenge, userId: taken.userId };
}

/** RFC 8176: a key that cannot leave its device is `hwk`; a synced passkey is `swk`. */
function methodOf(deviceType: string): FactorMethod {
  return deviceType === 'multiDevice' ? 'swk' : 'hwk';
}

const unverified = () =>
  new ValidationError('credential', 'The passkey could not be verified. Nothing was changed; try again.');

/** Registration options for the signed-in user (WebAuthn L2 §7.1): a discoverable credential. */
export async function passkeyRegistrationOptions(ctx: Ctx): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const user = requireUser(ctx);
  const { rpID } = relyingParty(ctx);
  const existing = await credentialsOf(ctx.sql, user.id);
  const options = await generateRegistrationOptions({
    rpName: 'Latchkey',
    rpID,
    userName: user.username,
    userID: new TextEncoder().encode(user.id),
    attestationType: 'none',
    timeout: CHALLENGE_TTL * 1000,
    excludeCredentials: existing.map((c) => ({
      id: c.credentialId.toString('base64url'),
      transports: c.transports,
    })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
  });
  await rememberChallenge(ctx, options.challenge, 'register', user.id);
  return options;
}

/**
 * Verifies a registration (WebAuthn L2 §7.1) and stores the credential under a name; the first
 * factor of the user also gets recovery codes (returned, shown once).
 */
export async function registerPasskey(
  ctx: Ctx,
  input: { credential: string | undefined; name?: string },
): Promise<{ recoveryCodes: string[] | null; method: FactorMethod }> {
  const user = requireUser(ctx);
  const response = parseCredential<RegistrationResponseJSON>(input.credential);
  const { challenge } = await takeChallengeOf(ctx, response.response.clientDataJSON, 'register', user.id);
  const { rpID, origin } = relyingParty(ctx);
  let info: Awaited<ReturnType<typeof verifyRegistrationResponse>>['registrationInfo'];
  try {
    const verified = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: origin,
      expectedRPID: rpID,
      requireUserVerification: false,
    });
    if (!verified.verified) throw unverified();
    info = verified.registrationInfo;
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw unverified();
  }
  const credentialId = Buffer.from(info.credential.id, 'base64url');
  if (await credentialById(ctx.sql, credentialId)) {
    throw new ValidationError('credential', 'This passkey is already registered.');
  }
  const name = (input.name ?? '').trim().slice(0, 100) || 'Passkey';
  return ctx.transaction(async (tx) => {
    const first = !(await hasFactor(tx.sql, user.id));
    await insertCredential(tx.sql, {
      userId: user.id,
      name,
      credentialId,
      publicKey: Buffer.from(info.credential.publicKey),
      signCount: info.credential.counter,
      transports: info.credential.transports ?? [],
      deviceType: info.credentialDeviceType,
    });
    const recoveryCodes = first ? await issueRecoveryCodes(tx.sql, user.id) : null;
    await recordAudit(ctx, 'user.factor.add', { type: 'user', id: user.id }, { kind: 'webauthn' }, tx.em);
    return { recoveryCodes, method: methodOf(info.credentialDeviceType) };
  });
}

/** Passwordless sign-in ceremonies one address may start per challenge lifetime. */
const PASSWORDLESS_OPTIONS_PER_WINDOW = 30;

/**
 * Options for signing in (WebAuthn L2 §7.2): as the second factor of `userId` (their credentials
 * allowed), or passwordless (`null`: any discoverable credential; the credential says who).
 */
export async function passkeyLoginOptions(
  ctx: Ctx,
  userId: string | null,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  if (userId === null) {
    // Anyone may ask (nobody is signed in yet), and each ask stores a challenge: counted per
    // address before anything is written.
    const limit = await countAttempt(
      ctx.sql,
      [{ key: `passkey:ip:${limitAddress(ctx.ip)}`, max: PASSWORDLESS_OPTIONS_PER_WINDOW }],
      CHALLENGE_TTL,
    );
    if (limit.blocked) throw new TooManyAttemptsError(limit.retryAfter);
  }
  const { rpID } = relyingParty(ctx);
  const allow = userId ? await credentialsOf(ctx.sql, userId) : [];
  const options = await generateAuthenticationOptions({
    rpID,
    timeout: CHALLENGE_TTL * 1000,
    userVerification: userId ? 'discouraged' : 'required',
    allowCredentials: allow.map((c) => ({
      id: c.credentialId.toString('base64url'),
      transports: c.transports,
    })),
  });
  await rememberChallenge(ctx, options.challenge, userId ? 'second-factor' : 'passwordless', userId);
  return options;
}

/**
 * Verifies a sign-in assertion (WebAuthn L2 §7.2): the challenge is this server's and unused,
 * the credential is registered (to `userId`, for a second factor), the signature is good, the
 * origin and RP ID are the issuer's, and the signature counter moved forward (a cloned
 * authenticator is refused). Passwordless needs user verification (then it is two factors).
 * Returns the user and the RFC 8176 methods of the login.
 */
export async function verifyPasskeyLogin(
  ctx: Ctx,
  input: { credential: string | undefined; userId: string | null },
): Promise<{ userId: string; amr: string[] }> {
  const response = parseCredential<AuthenticationResponseJSON>(input.credential);
  const purpose: ChallengePurpose = input.userId ? 'second-factor' : 'passwordless';
  const { challenge } = await takeChallengeOf(ctx, response.response.clientDataJSON, purpose, input.userId);
  let rawId: Buffer;
  try {
    rawId = Buffer.from(response.id, 'base64url');
  } catch {
    throw unverified();
  }
  const stored = await credentialById(ctx.sql, rawId);
  if (!stored || (input.userId !== null && stored.userId !== input.userId)) {
    throw new ValidationError('credential', 'This passkey is not registered for this account.');
  }
  const { rpID, origin } = relyingParty(ctx);
  let result: Awaited<ReturnType<typeof verifyAuthenticationResponse>>['authenticationInfo'];
  try {
    const verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: origin,
      expectedRPID: rpID,
      requireUserVerification: input.userId === null,
      credential: {
        id: stored.credentialId.toString('base64url'),
        publicKey: new Uint8Array(stored.publicKey),
        counter: stored.signCount,
        transports: stored.transports,
      },
    });
    if (!verified.verified) throw unverified();
    result = verified.authenticationInfo;
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw unverified();
  }
  if (!(await advanceCounter(ctx.sql, stored.id, stored.signCount, result.newCounter))) throw unverified();
  const factor: FactorMethod =
    (stored.deviceType ?? result.credentialDeviceType) === 'multiDevice' ? 'swk' : 'hwk';
  const amr = input.userId
    ? loginAmr({ password: true, factor })
    : loginAmr({ password: false, factor, userVerified: result.userVerified });
  return { userId: stored.userId, amr };
}
