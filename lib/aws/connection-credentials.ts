/**
 * The account's stored connection credentials on AWS, for a task's `secrets`: names from the connection records
 * in S3, values opened from their KMS envelope. Only the agent function builds this (it may Decrypt); the API
 * checks a submission by name only (`AwsMcpConnections.credentialFields`).
 */
import type { AccountCredentials } from '../task/index.js';
import type { CredentialEnvelope } from './connection-envelope.js';
import type { S3ConnectionStore } from './connection-store.js';

/**
 * @example
 * runTask({ ..., taskSecrets: (record) => resolveTaskSecrets(record, new S3AccountCredentials({ store, envelope }), redactor) });
 */
export class S3AccountCredentials implements AccountCredentials {
  constructor(private readonly deps: { store: S3ConnectionStore; envelope: CredentialEnvelope }) {}

  async credentialFields(accountId: string, connectionId: string): Promise<readonly string[] | undefined> {
    return (await this.deps.store.get(accountId, connectionId))?.record.credentialFields;
  }

  /** Opens the sealed credential under the connection's own encryption context; undefined when the connection or its credential is gone. */
  async credentialValues(accountId: string, connectionId: string): Promise<Record<string, unknown> | undefined> {
    if (!(await this.deps.store.get(accountId, connectionId))) return undefined;
    const sealed = await this.deps.store.sealedCredentials(accountId, connectionId);
    return sealed ? this.deps.envelope.open({ accountId, connectionId }, sealed) : undefined;
  }
}
