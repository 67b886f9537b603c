import { rotateSigningKeys } from '../services/key-rotation.js';
import type { Command } from './command.js';

export const rotateKeysCommand: Command = {
  name: 'rotate-keys',
  summary: 'make new signing keys active; the previous ones stay published until their tokens expire',
  usage: 'rotate-keys',
  options: {},
  async run(ctx, _values, out) {
    const fresh = await rotateSigningKeys(ctx);
    out(JSON.stringify({ active: fresh.map((k) => ({ kid: k.kid, alg: k.alg })) }));
  },
};
