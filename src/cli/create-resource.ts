import { createResource } from '../services/resources.js';
import { type Command, list, requireString, UsageError } from './command.js';

export const createResourceCommand: Command = {
  name: 'create-resource',
  summary: 'register a protected resource (RFC 8707); prints its id and identifier as JSON',
  usage:
    'create-resource --identifier URI --name N [--scopes s1,s2] [--jwt-access-tokens] [--access-token-ttl S]',
  options: {
    identifier: { type: 'string' },
    name: { type: 'string' },
    scopes: { type: 'string' },
    'jwt-access-tokens': { type: 'boolean' },
    'access-token-ttl': { type: 'string' },
  },
  async run(ctx, values, out) {
    const ttlRaw = values['access-token-ttl'];
    let accessTokenTtl: number | null = null;
    if (typeof ttlRaw === 'string') {
      if (!/^\d{1,9}$/.test(ttlRaw)) throw new UsageError('--access-token-ttl must be a number of seconds');
      accessTokenTtl = Number(ttlRaw);
    }
    const resource = await createResource(ctx, {
      identifier: requireString(values, 'identifier'),
      name: requireString(values, 'name'),
      scopes: list(values.scopes),
      accessTokenFormat: values['jwt-access-tokens'] === true ? 'jwt' : 'opaque',
      accessTokenTtl,
    });
    out(JSON.stringify({ id: resource.id, identifier: resource.identifier }));
  },
};
