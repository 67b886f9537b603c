import type { Request, Response } from 'express';
import { ValidationError } from '../services/errors.js';
import { confirmTotp, startTotpEnrollment, totpUri } from '../services/totp.js';
import { registerPasskey } from '../services/webauthn.js';
import { csrfToken } from './csrf.js';
import { field } from './forms.js';
import { qrDataUri } from './qr.js';
import { seal, unseal } from './sealed.js';

/**
 * Enrolling a factor, shared by the security page (a signed-in user adding one) and the login
 * (a user MFA_REQUIRED covers, enrolling before their first session). The secret being enrolled
 * rides in the form, sealed and bound to the user, until one code confirms it.
 */
const ENROLLMENT_SECONDS = 600;

interface Held {
  uid: string;
  secret: string;
}

export interface EnrollmentPage {
  /** Where the TOTP form posts. */
  totpAction: string;
  /** Where the passkey form posts. */
  passkeyAction: string;
  title: string;
  intro?: string;
  passkeyError?: string;
}

/** Renders the TOTP enrollment: QR code, the otpauth:// URI as text, the code field. */
export async function renderTotpEnrollment(
  req: Request,
  res: Response,
  page: EnrollmentPage,
  again?: { secret: string; error: string; name?: string },
): Promise<void> {
  const secret = again?.secret ?? startTotpEnrollment(req.ctx).secret;
  const uri = totpUri(req.ctx, secret);
  res.status(again ? 400 : 200).render('accounts/enroll', {
    ...page,
    uri,
    secret,
    qr: await qrDataUri(uri),
    enrollment: seal(
      req,
      'totp-enrollment-v1',
      { uid: req.ctx.user!.id, secret } satisfies Held,
      ENROLLMENT_SECONDS,
    ),
    error: again?.error,
    name: again?.name ?? 'Authenticator app',
    csrfToken: csrfToken(req, res),
  });
}

/**
 * Confirms the TOTP enrollment the form carries. Answers the recovery codes to show (first
 * factor) or null; a wrong code or an expired form re-renders the page with its reason.
 */
export async function confirmTotpFromForm(
  req: Request,
  res: Response,
  page: EnrollmentPage,
): Promise<{ recoveryCodes: string[] | null } | undefined> {
  const held = unseal<Held>(req, 'totp-enrollment-v1', field(req, 'enrollment'));
  const name = field(req, 'name');
  if (!held || held.uid !== req.ctx.user?.id) {
    await renderTotpEnrollment(req, res, page, {
      secret: startTotpEnrollment(req.ctx).secret,
      error: 'This form has expired: scan the new code below.',
      name,
    });
    return undefined;
  }
  try {
    return await confirmTotp(req.ctx, { secret: held.secret, code: field(req, 'code') ?? '', name });
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    await renderTotpEnrollment(req, res, page, { secret: held.secret, error: err.message, name });
    return undefined;
  }
}

/** Registers the passkey the form carries; ValidationError (readable) when it does not verify. */
export function registerPasskeyFromForm(req: Request) {
  return registerPasskey(req.ctx, { credential: field(req, 'credential'), name: field(req, 'name') });
}

/** The recovery codes, shown once; `next`: where the person goes on. */
export function renderRecoveryCodes(res: Response, codes: string[], next: string, fresh: boolean): void {
  res.render('accounts/recovery-codes', {
    title: 'Recovery codes',
    codes,
    text: codes.join('\n'),
    next,
    fresh,
  });
}
