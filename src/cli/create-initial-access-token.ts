import { createInitialAccessToken } from '../services/initial-access-tokens.js';
import { type Command, UsageError, type Values } from './command.js';

function wholeNumber(values: Values, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--${name} must be a whole number of at least 1`);
  }
  return n;
}

export const createInitialAccessTokenCommand: Command = {
  name: 'create-initial-access-token',
  summary: 'create an RFC 7591 initial access token (DYNAMIC_REGISTRATION=token); prints it once as JSON',
  usage: 'create-initial-access-token [--expires-in SECONDS] [--uses N]',
  options: { 'expires-in': { type: 'string' }, uses: { type: 'string' } },
  async run(ctx, values, out) {
    const { token, record } = await createInitialAccessToken(ctx, {
      expiresIn: wholeNumber(values, 'expires-in'),
      uses: wholeNumber(values, 'uses'),
    });
    out(
      JSON.stringify({
        initial_access_token: token,
        id: record.id,
        expires_at: record.expiresAt ? Math.floor(record.expiresAt.getTime() / 1000) : null,
        uses: record.uses ?? null,
      }),
    );
  },
};
