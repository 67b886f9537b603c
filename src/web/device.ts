import { type Request, type Response, Router } from 'express';
import {
  decideDeviceCode,
  findPendingByUserCode,
  formatUserCode,
  normaliseUserCode,
  type PendingDevice,
} from '../services/device-codes.js';
import { type Limit, limitAddress, limitedAttempt } from '../services/limits.js';
import { csrfToken, requireCsrf } from './csrf.js';
import { field } from './forms.js';
import { requireLogin } from './session.js';

const MAX_WRONG_CODES = 10;

/**
 * /o/device/ (RFC 8628 §3.3): the logged-in user types the code shown on the device, sees what
 * the application asks for, and approves or denies. Wrong codes count against a brute-force
 * limit per user and per address, and the answer says nothing about other people's codes.
 */
export function deviceRouter(): Router {
  const router = Router();
  router.use('/o/device', requireLogin);

  router.get('/o/device/', (req, res) => {
    const prefill = typeof req.query.user_code === 'string' ? req.query.user_code.slice(0, 20) : '';
    showEntry(req, res, prefill);
  });

  router.post('/o/device/', requireCsrf, async (req, res) => {
    const typed = field(req, 'user_code') ?? '';
    const device = await lookup(req, res, typed);
    if (!device) return;
    const client = await req.ctx.runtime.clients.get(device.clientId);
    // RFC 8707: name the services the access is for (registered when the request was made).
    const resources = await Promise.all(
      device.resources.map(async (identifier) => ({
        identifier,
        name: (await req.ctx.runtime.resources.get(identifier))?.name ?? identifier,
      })),
    );
    res.render('device/consent', {
      title: 'Connect a device',
      userCode: formatUserCode(device.userCode),
      client: client
        ? { name: client.name, owner: client.ownerUsername }
        : { name: 'Unknown application', owner: '' },
      scopes: device.scopes.map((name) => ({ name, description: req.ctx.config.scopes[name] ?? name })),
      resources,
      csrfToken: csrfToken(req, res),
    });
  });

  router.post('/o/device/confirm/', requireCsrf, async (req, res) => {
    const device = await lookup(req, res, field(req, 'user_code') ?? '');
    if (!device) return;
    const approve = Boolean(field(req, 'allow'));
    const session = req.browserSession!;
    const decided = await decideDeviceCode(
      req.ctx.sql,
      device.id,
      approve ? { approve: true, userId: session.user.id, authTime: session.authTime } : { approve: false },
    );
    res.render('device/done', {
      title: approve ? 'Device connected' : 'Request denied',
      approved: approve && decided,
      stale: !decided,
    });
  });
  return router;
}

function showEntry(req: Request, res: Response, value: string, error?: string, status = 200): void {
  res
    .status(status)
    .render('device/enter', { title: 'Connect a device', value, error, csrfToken: csrfToken(req, res) });
}

function limits(req: Request): Limit[] {
  return [
    { key: `device:user:${req.browserSession!.user.id}`, max: MAX_WRONG_CODES },
    { key: `device:ip:${limitAddress(req.ip)}`, max: MAX_WRONG_CODES * 3 },
  ];
}

/**
 * The pending request for a typed code, under the wrong-code limit (counted before the lookup,
 * so parallel guesses cannot outrun it; a found code takes back its own count); renders the
 * error itself.
 */
async function lookup(req: Request, res: Response, typed: string): Promise<PendingDevice | null> {
  const { sql, config } = req.ctx;
  const code = normaliseUserCode(typed);
  const result = await limitedAttempt(sql, limits(req), config.limits.loginWindow, async () =>
    code ? findPendingByUserCode(sql, code) : null,
  );
  if (result.ok) return result.value;
  if (result.blocked) {
    res.set('Retry-After', String(result.retryAfter));
    showEntry(
      req,
      res,
      typed,
      `Too many wrong codes. Try again in ${Math.ceil(result.retryAfter / 60)} minutes.`,
      429,
    );
    return null;
  }
  showEntry(
    req,
    res,
    typed,
    'That code is not valid or has expired. Check the code on your device and try again.',
    400,
  );
  return null;
}
