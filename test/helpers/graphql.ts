import { remember, rememberFrom } from './ledger.js';
import type { TestServer } from './server.js';

export type Auth = { cookie: string } | { bearer: string } | null;

export interface GqlResult {
  status: number;
  headers: Headers;
  data: Record<string, unknown> | null | undefined;
  errors:
    | Array<{
        message: string;
        extensions?: { code?: string; field?: string; fields?: Array<{ field: string; message: string }> };
      }>
    | undefined;
}

/** POSTs a GraphQL operation as a script or a browser would (JSON, same origin). */
export async function gql(
  server: TestServer,
  auth: Auth,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GqlResult> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (auth && 'cookie' in auth) headers.Cookie = auth.cookie;
  if (auth && 'bearer' in auth) headers.Authorization = `Bearer ${auth.bearer}`;
  const res = await fetch(new URL('/graphql', server.url), {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: Record<string, unknown> | null; errors?: GqlResult['errors'] };
  rememberFrom(body.data);
  if (variables) remember('password', JSON.stringify(variables).match(/"password":"([^"]+)"/)?.[1]);
  remember('password', query.match(/password:\s*"([^"]+)"/)?.[1]);
  return { status: res.status, headers: res.headers, data: body.data, errors: body.errors };
}

export function codeOf(result: GqlResult): string | undefined {
  return result.errors?.[0]?.extensions?.code;
}
