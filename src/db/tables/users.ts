/**
 * Users are administered through the ORM (src/services/users.ts); the protocol tables only ask
 * one question of them, answered here once: may this user act? A disabled user's sessions,
 * codes, grants and tokens stop working at once, whatever table they live in.
 */
export function userEnabled(user: string): string {
  return `${user}.is_active`;
}
