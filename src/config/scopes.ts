/** The scopes a fresh server knows, with the description the consent page shows. */
export const DEFAULT_SCOPES: Readonly<Record<string, string>> = Object.freeze({
  read: 'Read your data',
  write: 'Change your data',
  openid: 'Confirm your identity (sign you in)',
  profile: 'See your username and name',
  email: 'See your email address',
  graphql: 'Manage your applications and tokens through the Latchkey API',
  introspection: 'Check whether tokens issued by this server are valid',
});

/** Scopes that act on the server itself: not given to new applications by default. */
export const PRIVILEGED_SCOPES: readonly string[] = ['graphql', 'introspection'];

/** Scopes only an administrator may add to an application: `introspection` reads every client's tokens. */
export const ADMIN_ONLY_SCOPES: readonly string[] = ['introspection'];
