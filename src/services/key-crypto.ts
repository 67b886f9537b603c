import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Secret material at rest (private signing keys, server secrets, TOTP secrets): AES-256-GCM under a key
 * derived (HKDF-SHA256) from KEY_ENCRYPTION_KEY, one derived key per kind of material so that a
 * ciphertext of one kind never opens as the other. The envelope is
 * `v1.<iv>.<tag>.<ciphertext>` in base64url.
 */
export type AtRestKind = 'signing key' | 'server secret' | 'TOTP secret';

const INFO: Record<AtRestKind, string> = {
  'signing key': 'signing-key-encryption-v1',
  'server secret': 'server-secret-encryption-v1',
  'TOTP secret': 'totp-secret-encryption-v1',
};

/** The server found stored material it cannot open: it must not start (nor replace the material). */
export class KeyEncryptionError extends Error {
  override name = 'KeyEncryptionError';
}

function derive(secret: string, kind: AtRestKind): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'latchkey', INFO[kind], 32));
}

export function sealAtRest(plaintext: string, secret: string, kind: AtRestKind): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', derive(secret, kind), iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [
    'v1',
    iv.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
    data.toString('base64url'),
  ].join('.');
}

/**
 * Opens an envelope. Without KEY_ENCRYPTION_KEY, or with one that does not open it, this throws
 * a KeyEncryptionError whose one-line message tells the operator what to set.
 */
export function openAtRest(envelope: string, secret: string | undefined, kind: AtRestKind): string {
  if (!secret) {
    throw new KeyEncryptionError(
      `The stored ${kind}s are encrypted: set KEY_ENCRYPTION_KEY to the key they were encrypted with.`,
    );
  }
  const [version, iv, tag, data] = envelope.split('.');
  try {
    if (version !== 'v1' || !iv || !tag || !data) throw new Error('unknown envelope');
    const decipher = createDecipheriv('aes-256-gcm', derive(secret, kind), Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw new KeyEncryptionError(
      `KEY_ENCRYPTION_KEY does not decrypt the stored ${kind}s: set it to the key they were encrypted with.`,
    );
  }
}
