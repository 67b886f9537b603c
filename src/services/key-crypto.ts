import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Private signing keys at rest: AES-256-GCM under a key derived (HKDF-SHA256) from
 * KEY_ENCRYPTION_KEY. The envelope is `v1.<iv>.<tag>.<ciphertext>` in base64url.
 */
function derive(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'latchkey', 'signing-key-encryption-v1', 32));
}

export function encryptPrivateKey(plaintext: string, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', derive(secret), iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [
    'v1',
    iv.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
    data.toString('base64url'),
  ].join('.');
}

export function decryptPrivateKey(envelope: string, secret: string): string {
  const [version, iv, tag, data] = envelope.split('.');
  if (version !== 'v1' || !iv || !tag || !data) throw new Error('unknown signing key envelope');
  const decipher = createDecipheriv('aes-256-gcm', derive(secret), Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
}
