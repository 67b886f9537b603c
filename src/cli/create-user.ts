import { createUser } from '../services/users.js';
import { type Command, requireString } from './command.js';

export const createUserCommand: Command = {
  name: 'create-user',
  summary: 'create a user (argon2id password)',
  usage: 'create-user --username U --password P [--email E] [--admin]',
  options: {
    username: { type: 'string' },
    password: { type: 'string' },
    email: { type: 'string' },
    admin: { type: 'boolean' },
  },
  async run(ctx, values, out) {
    const user = await createUser(ctx, {
      username: requireString(values, 'username'),
      password: requireString(values, 'password'),
      email: typeof values.email === 'string' ? values.email : null,
      isAdmin: values.admin === true,
    });
    out(JSON.stringify({ id: user.id, username: user.username, is_admin: user.isAdmin }));
  },
};
