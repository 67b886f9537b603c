/**
 * session_applications: which applications a browser session signed in to (OpenID Connect
 * Back-Channel Logout 1.0 §2.1). Rows are written as one CTE of the statement that stores an
 * authorization code (no round trip of their own), deleted by the statement that ends their
 * session (src/db/tables/backchannel-logouts.ts) and, at the session's absolute expiry, by the
 * cleanup (src/db/tables/expiring.ts).
 */

/**
 * A CTE named `signed_in` recording that session `session` (a uuid expression) signed in to
 * `:application_id`, kept until `expires` (the session's absolute expiry). `from` names the
 * relations the two expressions come from; with `where`, the row is written only when it holds.
 * A second sign-in of the same session to the same application changes nothing.
 */
export function recordSignIn(session: string, expires: string, from: string, where = 'true'): string {
  return `
     signed_in as (
       insert into session_applications (session_id, application_id, expires_at)
       select ${session}, :application_id, ${expires} from ${from} where ${where} limit 1
       on conflict do nothing)`;
}
