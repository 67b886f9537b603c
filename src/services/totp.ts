import { Secret, TOTP } from 'otpauth';
import { claimTotpStep, hasFactor, insertTotpFactor, totpSecretsOf } from '../db/tables/factors.js';
import { requireUser } from './access.js';
import { recordAudit } from './audit.js';
import type { Ctx } from './context.js';
import { ValidationError } from './errors.js';
import { issueRecoveryCodes, limitedSecondFactor, type SecondFactorResult } from './factors.js';
import { openAtRest, sealAtRest } from './key-crypto.js';

/**
 * TOTP (RFC 6238) with the authenticator apps' common parameters: SHA-1, 6 digits, 30 s steps,
 * a 160-bit secret (RFC 4226 §4 recommends it). A code is accepted one step either side of now
 * (clock drift, §5.2) and only once: the step it matched is claimed in the database.
 */
const PERIOD = 30;
const WINDOW = 1;

function totp(secret: string, label: string, issuer: string): TOTP {
  return new TOTP({
    issuer,
    label,
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD,
  });
}

/** The issuer an authenticator app shows next to the account: Latchkey and its host. */
function appIssuer(ctx: Ctx): string {
  return `Latchkey (${new URL(ctx.config.issuer).host})`;
}

export interface TotpEnrollment {
  /** Base32, as the URI carries it. */
  secret: string;
  /** The `otpauth://totp/…` URI a QR code encodes. */
  uri: string;
}

/** A fresh secret for the signed-in user to scan; nothing is stored until a code confirms it. */
export function startTotpEnrollment(ctx: Ctx): TotpEnrollment {
  const user = requireUser(ctx);
  const secret = new Secret({ size: 20 }).base32;
  return { secret, uri: totp(secret, user.username, appIssuer(ctx)).toString() };
}

/** The otpauth URI of a secret being enrolled (to show it again after a wrong code). */
export function totpUri(ctx: Ctx, secret: string): string {
  const user = requireUser(ctx);
  return totp(secret, user.username, appIssuer(ctx)).toString();
}

/** The time step a code matches, or null (RFC 6238 §4: T = floor(unix time / 30)). */
function matchingStep(secret: string, code: string): number | null {
  const token = code.replace(/\s/g, '');
  if (!/^\d{6}$/.test(token)) return null;
  const delta = TOTP.validate({
    token,
    secret: Secret.fromBase32(secret),
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD,
    window: WINDOW,
  });
  return delta === null ? null : TOTP.counter({ period: PERIOD }) + delta;
}

/**
 * Confirms an enrollment with one valid code: stores the factor (its secret sealed with
 * KEY_ENCRYPTION_KEY when set; the confirming code's step counts as used) and, when it is the
 * user's first factor, ten recovery codes, returned here to be shown once.
 */
export async function confirmTotp(
  ctx: Ctx,
  input: { secret: string; code: string; name?: string },
): Promise<{ recoveryCodes: string[] | null }> {
  const user = requireUser(ctx);
  if (!/^[A-Z2-7]{32}$/.test(input.secret))
    throw new ValidationError('secret', 'This enrollment is not valid. Start again.');
  const name = (input.name ?? '').trim().slice(0, 100) || 'Authenticator app';
  const matched: { step: number | null } = { step: null };
  const result = await limitedSecondFactor(ctx, user.id, async () => {
    matched.step = matchingStep(input.secret, input.code);
    return matched.step !== null;
  });
  if (!result.ok || matched.step === null)
    throw new ValidationError(
      'code',
      secondFactorMessage(result.ok ? { ok: false, reason: 'invalid' } : result),
    );
  const step = matched.step;
  const kek = ctx.config.keyEncryptionKey;
  return ctx.transaction(async (tx) => {
    const first = !(await hasFactor(tx.sql, user.id));
    await insertTotpFactor(tx.sql, {
      userId: user.id,
      name,
      secret: kek ? sealAtRest(input.secret, kek, 'TOTP secret') : input.secret,
      encrypted: Boolean(kek),
      step,
    });
    const recoveryCodes = first ? await issueRecoveryCodes(tx.sql, user.id) : null;
    await recordAudit(ctx, 'user.factor.add', { type: 'user', id: user.id }, { kind: 'totp' }, tx.em);
    return { recoveryCodes };
  });
}

/**
 * The login's second step with a TOTP code, under the per-user limit. A right code whose step
 * was already used (by this or a parallel submission) is `replayed` (RFC 6238 §5.2).
 */
export function verifyTotpLogin(ctx: Ctx, userId: string, code: string): Promise<SecondFactorResult> {
  return limitedSecondFactor(ctx, userId, async () => {
    for (const factor of await totpSecretsOf(ctx.sql, userId)) {
      const secret = factor.encrypted
        ? openAtRest(factor.secret, ctx.config.keyEncryptionKey, 'TOTP secret')
        : factor.secret;
      const step = matchingStep(secret, code);
      if (step !== null) return (await claimTotpStep(ctx.sql, factor.id, step)) ? true : 'replayed';
    }
    return false;
  });
}

/** The sentence a person reads for a refused code. */
export function secondFactorMessage(result: Exclude<SecondFactorResult, { ok: true }>): string {
  if (result.reason === 'blocked') {
    const minutes = Math.ceil(result.retryAfter / 60);
    return `Too many wrong codes. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
  }
  if (result.reason === 'replayed')
    return 'This code has already been used. Wait for the next one and enter it.';
  return 'That code is not right. Check the time on your device and try again.';
}
