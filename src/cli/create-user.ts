import { createUser } from '../services/users.js';
import { type Command, requireString, UsageError } from './command.js';
import { promptNewPassword, readLine } from './prompt.js';

export const createUserCommand: Command = {
  name: 'create-user',
  summary: 'create a user (argon2id password; without --password it is asked for, not echoed)',
  usage: 'create-user --username U [--password P | --password-stdin] [--email E] [--admin]',
  options: {
    username: { type: 'string' },
    password: { type: 'string' },
    'password-stdin': { type: 'boolean' },
    email: { type: 'string' },
    admin: { type: 'boolean' },
  },
  async prepare(values, argv, io) {
    const fromStdin = values['password-stdin'] === true;
    if (typeof values.password === 'string') {
      if (fromStdin) throw new UsageError('give either --password or --password-stdin, not both');
      return argv;
    }
    let password: string;
    if (fromStdin) password = await readLine(io.stdin);
    else if (io.stdin.isTTY) password = await promptNewPassword(io.stdin, io.prompt);
    else throw new UsageError('stdin is not a terminal: give --password-stdin and pipe the password in');
    // Handed on as an argument only inside this process or over the server's 0600 socket.
    return [...argv.filter((a) => a !== '--password-stdin'), '--password', password];
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
