/**
 * MCP connection records on AWS, in the stack's S3 bucket, per account:
 *
 *   connections/<account>/records/<id>.json      the record (never a credential value)
 *   connections/<account>/credentials/<id>.json  the credentials, sealed (CredentialEnvelope)
 *   connections/<account>/names/<name>.json      the claim on a name, created with If-None-Match
 *
 * S3 rather than DynamoDB: the bucket already exists with encryption, TLS and public access blocked; an
 * account has a handful of connections, listed by prefix; the two rules that need atomicity (one connection
 * per name per account, no lost update between the keeper and a delete) are conditional writes
 * (`If-None-Match: *` on the name claim, `If-Match: <etag>` on record updates). No table, no second store.
 */
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { DeepAgentError } from '../errors/index.js';
import { McpConnectionSchema } from '../mcp-connections/index.js';
import { SealedCredentialsSchema, type SealedCredentials } from './connection-envelope.js';
import { getJsonObject, putJsonObject, type S3Sender, type WriteCondition } from './s3-json.js';

/** A connection as recorded on AWS: the local shape plus `pending` (installed, not started yet) and its sandbox. */
export const AwsConnectionSchema = McpConnectionSchema.extend({
  /** `needs_login`: a remote (OAuth) connection without a usable login; `running` once logged in. */
  status: z.enum(['pending', 'running', 'failed', 'stopped', 'needs_login']),
  /** The E2B sandbox the keeper started the server's sandbox as. */
  sandboxId: z.string().optional(),
  /** When the keeper last restarted it after a failed check (one restart per failure). */
  restartedAt: z.string().optional(),
});
export type AwsConnection = z.infer<typeof AwsConnectionSchema>;

const seg = (s: string) => encodeURIComponent(s);
export const connectionKeys = {
  record: (accountId: string, id: string) => `connections/${seg(accountId)}/records/${seg(id)}.json`,
  credentials: (accountId: string, id: string) => `connections/${seg(accountId)}/credentials/${seg(id)}.json`,
  name: (accountId: string, name: string) => `connections/${seg(accountId)}/names/${seg(name)}.json`,
  /** A remote connection's OAuth record, sealed (oauth-store.ts). */
  oauth: (accountId: string, id: string) => `connections/${seg(accountId)}/oauth/${seg(id)}.json`,
};

/**
 * @example
 * const store = new S3ConnectionStore({ s3, bucket: aws.taskBucket });
 * await store.create(record, sealed);
 * const mine = await store.list('acct-1');
 */
export class S3ConnectionStore {
  private readonly s3: S3Sender;
  private readonly bucket: string;

  constructor(deps: { s3: S3Sender; bucket: string }) {
    this.s3 = deps.s3;
    this.bucket = deps.bucket;
  }

  /** Claims the name, stores the sealed credentials and the record; `conflict` when the name is taken. */
  async create(record: AwsConnection, sealed?: SealedCredentials): Promise<void> {
    if (!(await this.put(connectionKeys.name(record.accountId, record.name), { id: record.id }, { ifNoneMatch: true }))) {
      throw new DeepAgentError('conflict', `a connection named "${record.name}" already exists; remove it or give another "name"`);
    }
    if (sealed) await this.put(connectionKeys.credentials(record.accountId, record.id), sealed, {});
    await this.put(connectionKeys.record(record.accountId, record.id), AwsConnectionSchema.parse(record), { ifNoneMatch: true });
  }

  async get(accountId: string, id: string): Promise<{ record: AwsConnection; etag: string } | undefined> {
    const got = await this.getJson(connectionKeys.record(accountId, id));
    return got ? { record: AwsConnectionSchema.parse(got.value), etag: got.etag } : undefined;
  }

  /** Writes `record` over the version read with `etag`; false when it changed or was deleted meanwhile. */
  update(record: AwsConnection, etag: string): Promise<boolean> {
    return this.put(connectionKeys.record(record.accountId, record.id), AwsConnectionSchema.parse(record), { ifMatch: etag });
  }

  async sealedCredentials(accountId: string, id: string): Promise<SealedCredentials | undefined> {
    const got = await this.getJson(connectionKeys.credentials(accountId, id));
    return got ? SealedCredentialsSchema.parse(got.value) : undefined;
  }

  /** The account's connections, oldest first. */
  async list(accountId: string): Promise<AwsConnection[]> {
    return this.readAll(`connections/${seg(accountId)}/records/`);
  }

  /** Every account's connections (the keeper's round). */
  async listAll(): Promise<AwsConnection[]> {
    return this.readAll('connections/', (key) => /\/records\/[^/]+\.json$/.test(key));
  }

  /** Deletes the record first (so the keeper stops treating it as live), then credentials, OAuth tokens and the name claim. */
  async remove(record: AwsConnection): Promise<void> {
    for (const key of [
      connectionKeys.record(record.accountId, record.id),
      connectionKeys.credentials(record.accountId, record.id),
      connectionKeys.oauth(record.accountId, record.id),
      connectionKeys.name(record.accountId, record.name),
    ]) {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    }
  }

  private async readAll(prefix: string, keep: (key: string) => boolean = () => true): Promise<AwsConnection[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
      for (const o of page.Contents ?? []) if (o.Key && keep(o.Key)) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const records = await Promise.all(keys.map(async (k) => (await this.getJson(k))?.value));
    return records
      .filter((r) => r !== undefined)
      .map((r) => AwsConnectionSchema.parse(r))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  private getJson(key: string): Promise<{ value: unknown; etag: string } | undefined> {
    return getJsonObject(this.s3, this.bucket, key);
  }

  private put(key: string, value: unknown, cond: WriteCondition): Promise<boolean> {
    return putJsonObject(this.s3, this.bucket, key, value, cond);
  }
}
