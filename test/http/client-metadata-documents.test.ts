import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCOPES } from '../../src/config/scopes.js';
import { OutboundClient, OutboundError, type Resolver } from '../../src/http/outbound.js';
import {
  ClientMetadataDocumentError,
  resolveClientMetadataDocument,
} from '../../src/services/client-metadata-documents.js';
import { selfSignedCertificate } from '../helpers/tls.js';

/**
 * Client ID metadata documents fetched for real over https from a local server with a
 * self-signed certificate for cimd.test; a test resolver maps cimd.test (and other.test) to
 * 127.0.0.1, so nothing leaves the machine. Loopback is reachable only with the development
 * knob on, which is the point of the tests with it off.
 */

let server: https.Server;
let port: number;
let ca: string;
const documents = new Map<string, () => { status?: number; body: string; type?: string }>();
const resolve: Resolver = async (name) =>
  name === 'cimd.test' || name === 'other.test' ? [{ address: '127.0.0.1', family: 4 }] : [];

beforeAll(async () => {
  const { key, cert } = selfSignedCertificate(['cimd.test']);
  ca = cert;
  server = https.createServer({ key, cert }, (req, res) => {
    const doc = documents.get(req.url ?? '');
    if (!doc) return void res.writeHead(404).end();
    const { status = 200, body, type = 'application/json' } = doc();
    res.writeHead(status, { 'content-type': type, 'cache-control': 'max-age=60' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const clientId = (path: string, host = 'cimd.test') => `https://${host}:${port}${path}`;
const dev = () => new OutboundClient({ allowPrivateNetwork: true, resolve, ca });

async function failure(p: Promise<unknown>): Promise<ClientMetadataDocumentError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClientMetadataDocumentError);
  return err as ClientMetadataDocumentError;
}

describe('client ID metadata documents over https', () => {
  it('CIMD §4: a document served at its own https URL resolves to a validated public client', async () => {
    const id = clientId('/client.json');
    documents.set('/client.json', () => ({
      body: JSON.stringify({
        client_id: id,
        client_name: 'Local Agent',
        redirect_uris: ['http://127.0.0.1/cb'],
      }),
    }));
    const doc = await resolveClientMetadataDocument(dev(), id, DEFAULT_SCOPES);
    expect(doc).toMatchObject({
      clientId: id,
      host: `cimd.test:${port}`,
      clientName: 'Local Agent',
      redirectUris: ['http://127.0.0.1/cb'],
    });
  });

  it('SSRF: with OUTBOUND_ALLOW_PRIVATE_NETWORK off, a client_id whose host resolves to loopback is refused, the message naming the host only', async () => {
    const id = clientId('/client.json');
    const err = await failure(
      resolveClientMetadataDocument(
        new OutboundClient({ allowPrivateNetwork: false, resolve, ca }),
        id,
        DEFAULT_SCOPES,
      ),
    );
    expect(err.reason).toBe('fetch_failed');
    expect((err.cause as OutboundError).reason).toBe('address_not_allowed');
    expect(err.message).toContain('cimd.test');
    expect(err.message).not.toContain('127.0.0.1');
  });

  it('TLS: the certificate is verified against the client_id host — the same server reached as other.test is refused', async () => {
    const id = clientId('/other.json', 'other.test');
    documents.set('/other.json', () => ({
      body: JSON.stringify({ client_id: id, redirect_uris: ['https://a.example/cb'] }),
    }));
    const err = await failure(resolveClientMetadataDocument(dev(), id, DEFAULT_SCOPES));
    expect(err.reason).toBe('fetch_failed');
    expect((err.cause as OutboundError).reason).toBe('network');
    expect(((err.cause as OutboundError).cause as { code?: string }).code).toBe(
      'ERR_TLS_CERT_ALTNAME_INVALID',
    );
    // And without the test's trust anchor, the system store does not know the self-signed certificate.
    const untrusted = new OutboundClient({ allowPrivateNetwork: true, resolve });
    const err2 = await failure(
      resolveClientMetadataDocument(untrusted, clientId('/client.json'), DEFAULT_SCOPES),
    );
    expect(((err2.cause as OutboundError).cause as { code?: string }).code).toBe(
      'DEPTH_ZERO_SELF_SIGNED_CERT',
    );
  });

  it('CIMD §4.1: a document whose client_id is another URL (an impersonation attempt) is refused', async () => {
    const id = clientId('/impostor.json');
    documents.set('/impostor.json', () => ({
      body: JSON.stringify({
        client_id: 'https://trusted.example/client.json',
        redirect_uris: ['https://a.example/cb'],
      }),
    }));
    const err = await failure(resolveClientMetadataDocument(dev(), id, DEFAULT_SCOPES));
    expect(err.reason).toBe('invalid_document');
  });

  it('CIMD §4 (size): a document over 5 KiB is refused', async () => {
    const id = clientId('/big.json');
    documents.set('/big.json', () => ({
      body: JSON.stringify({ client_id: id, redirect_uris: ['https://a.example/cb'], pad: 'x'.repeat(6000) }),
    }));
    const err = await failure(resolveClientMetadataDocument(dev(), id, DEFAULT_SCOPES));
    expect((err.cause as OutboundError).reason).toBe('too_large');
  });

  it('CIMD §3: a client_id that is not a client identifier URL is refused without any fetch', async () => {
    let fetched = 0;
    const counting = { fetchJson: async () => ++fetched };
    for (const id of ['http://cimd.test/client.json', 'https://cimd.test/', 'https://cimd.test/a/../b']) {
      const err = await failure(resolveClientMetadataDocument(counting, id, DEFAULT_SCOPES));
      expect(err.reason).toBe('invalid_client_id_url');
    }
    expect(fetched).toBe(0);
  });
});
