import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/**
 * The client's address, honouring TRUST_PROXY exactly as Express's `trust proxy` does (the
 * pages and GraphQL use Express; the protocol door reads it here), so both agree on who is who
 * for the brute-force limits.
 */
export function clientAddress(
  trustProxy: boolean | number | string,
): (req: IncomingMessage) => string | undefined {
  const trust = compileTrust(trustProxy);
  return (req) => proxyaddr(req, trust);
}

function compileTrust(value: boolean | number | string): (addr: string, hop: number) => boolean {
  if (value === true) return () => true;
  if (value === false) return () => false;
  if (typeof value === 'number') return (_addr, hop) => hop < value;
  return proxyaddr.compile(value.split(',').map((v) => v.trim()));
}
