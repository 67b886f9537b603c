import { User } from '../entities/User.js';
import { requireUser } from './access.js';
import { recordAudit } from './audit.js';
import type { Ctx } from './context.js';
import { BusyError, ValidationError } from './errors.js';
import { authenticate } from './login.js';
import { hashPassword } from './passwords.js';
import { afterSessionsEnded, endSessionsIn } from './sessions.js';
import { checkPassword } from './users.js';

export interface PasswordChange {
  current: string;
  next: string;
  confirm: string;
}

/**
 * The signed-in user changes their own password: the current one is checked as a login is
 * (argon2 under the same brute-force limits), the new one meets the same rule as everywhere,
 * and every other session of the user ends with the change (the one that made it stays).
 * Returns how many sessions ended.
 */
export async function changeOwnPassword(ctx: Ctx, input: PasswordChange): Promise<number> {
  const viewer = requireUser(ctx);
  const keep = ctx.actor.kind === 'user' ? ctx.actor.sessionId : undefined;
  if (input.next !== input.confirm)
    throw new ValidationError('confirm', 'The two new passwords do not match.');
  checkPassword(input.next);
  const checked = await authenticate(ctx, viewer.username, input.current);
  if (!checked.ok) {
    if (checked.reason === 'busy') throw new BusyError(checked.retryAfter);
    if (checked.reason === 'blocked') {
      throw new ValidationError('current', 'Too many wrong passwords. Try again later.');
    }
    throw new ValidationError('current', 'Your current password is not right.');
  }
  if (checked.user.id !== viewer.id)
    throw new ValidationError('current', 'Your current password is not right.');
  const passwordHash = await hashPassword(ctx, input.next); // slow: outside the transaction
  const result = await ctx.transaction(async (tx) => {
    const user = await tx.em.findOneOrFail(User, { id: viewer.id });
    tx.em.assign(user, { passwordHash, passwordChangedAt: new Date() });
    await tx.em.flush();
    const ended = await endSessionsIn(ctx, tx.sql, { userId: viewer.id, except: keep });
    const others = keep ? ended.ended : 0;
    await recordAudit(
      ctx,
      'user.password.change',
      { type: 'user', id: viewer.id },
      { endedSessions: others },
      tx.em,
    );
    return { ended, others };
  });
  afterSessionsEnded(ctx, result.ended);
  return result.others;
}
