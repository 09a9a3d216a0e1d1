/**
 * Envelope encryption of MCP connection credentials under the stack's KMS key: KMS makes a fresh 256-bit data
 * key per write (`GenerateDataKey`), the credentials are sealed here with AES-256-GCM under it, and only the
 * KMS-encrypted copy of the data key is kept beside the ciphertext. Opening asks KMS to `Decrypt` that copy,
 * which only the functions that start a connection's server (the keeper, the agent) are allowed to do.
 *
 * The encryption context binds a sealed blob to its account and connection: a blob copied to another
 * connection's key does not decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { z } from 'zod';
import { DeepAgentError } from '../errors/index.js';

export type KmsSender = Pick<KMSClient, 'send'>;

/** What is stored: no plaintext, no plaintext key. */
export const SealedCredentialsSchema = z.object({
  v: z.literal(1),
  keyId: z.string(),
  /** The data key as KMS encrypted it (base64). */
  encryptedDataKey: z.string(),
  iv: z.string(),
  tag: z.string(),
  ciphertext: z.string(),
});
export type SealedCredentials = z.infer<typeof SealedCredentialsSchema>;

/** Which connection a blob belongs to; sent to KMS as the encryption context. */
export interface CredentialOwner {
  accountId: string;
  connectionId: string;
}

const context = (owner: CredentialOwner) => ({ accountId: owner.accountId, connectionId: owner.connectionId });

/**
 * @example
 * const envelope = new CredentialEnvelope(new KMSClient({}), aws.connectionKeyArn);
 * const sealed = await envelope.seal({ accountId, connectionId }, { GITHUB_PERSONAL_ACCESS_TOKEN: token });
 * const plain = await envelope.open({ accountId, connectionId }, sealed); // only in the keeper or the agent
 */
export class CredentialEnvelope {
  constructor(
    private readonly kms: KmsSender,
    private readonly keyId: string,
  ) {}

  async seal(owner: CredentialOwner, credentials: Record<string, unknown>): Promise<SealedCredentials> {
    const out = await this.kms.send(new GenerateDataKeyCommand({ KeyId: this.keyId, KeySpec: 'AES_256', EncryptionContext: context(owner) }));
    if (!out.Plaintext || !out.CiphertextBlob) throw new DeepAgentError('internal', 'KMS GenerateDataKey returned no key');
    const key = Buffer.from(out.Plaintext);
    try {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      // The owner is authenticated data too, so a swapped blob fails locally as well as at KMS.
      cipher.setAAD(Buffer.from(`${owner.accountId}\u0000${owner.connectionId}`));
      const ciphertext = Buffer.concat([cipher.update(JSON.stringify(credentials), 'utf8'), cipher.final()]);
      return {
        v: 1,
        keyId: out.KeyId ?? this.keyId,
        encryptedDataKey: Buffer.from(out.CiphertextBlob).toString('base64'),
        iv: iv.toString('base64'),
        tag: cipher.getAuthTag().toString('base64'),
        ciphertext: ciphertext.toString('base64'),
      };
    } finally {
      key.fill(0);
    }
  }

  async open(owner: CredentialOwner, sealed: SealedCredentials): Promise<Record<string, unknown>> {
    const out = await this.kms.send(
      new DecryptCommand({ CiphertextBlob: Buffer.from(sealed.encryptedDataKey, 'base64'), KeyId: sealed.keyId, EncryptionContext: context(owner) }),
    );
    if (!out.Plaintext) throw new DeepAgentError('internal', 'KMS Decrypt returned no key');
    const key = Buffer.from(out.Plaintext);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
      decipher.setAAD(Buffer.from(`${owner.accountId}\u0000${owner.connectionId}`));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      const plain = Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64')), decipher.final()]).toString('utf8');
      return JSON.parse(plain) as Record<string, unknown>;
    } catch {
      throw new DeepAgentError('internal', `the credentials of MCP connection ${owner.connectionId} do not decrypt`);
    } finally {
      key.fill(0);
    }
  }
}
