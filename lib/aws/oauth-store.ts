/**
 * MCP OAuth on AWS: the tokens of a remote connection and the logins waiting for their callback, in the
 * stack's bucket, sealed with the connections' KMS envelope (CredentialEnvelope):
 *
 *   connections/<account>/oauth/<connection id>.json   the OAuth record (client, tokens), sealed
 *   connections/oauth-pending/<sha256(state)>.json     a started login, sealed, created If-None-Match, taken once
 *
 * Who may read what: the API function seals (GenerateDataKey) and may decrypt only pending logins (the KMS
 * grant is conditioned on their encryption context, PENDING_LOGIN_ACCOUNT); the agent decrypts the account's
 * token records and seals the refreshed ones. Token records are sealed under `<connection id>#oauth`, so a
 * token blob and the connection's credentials blob cannot stand in for each other.
 */
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DeepAgentError } from '../errors/index.js';
import { HttpOAuthLogins, oauthRecordKey, type McpOAuthBackend, type OAuthSecretStore, type PendingLogin, type PendingLoginStore } from '../mcp/index.js';
import type { Redactor } from '../secrets/index.js';
import { SealedCredentialsSchema, type CredentialEnvelope, type CredentialOwner } from './connection-envelope.js';
import type { AwsMcpConnections } from './connection-service.js';
import { connectionKeys } from './connection-store.js';
import { isNoSuchKey, isPreconditionFailure, type S3Sender } from './s3-task-store.js';

/** The encryption-context account of pending logins: the one context the API function may decrypt. */
export const PENDING_LOGIN_ACCOUNT = '__mcp_oauth_pending__';

export const oauthKeys = {
  tokens: connectionKeys.oauth,
  pending: (state: string) => `connections/oauth-pending/${stateHash(state)}.json`,
};
const stateHash = (state: string) => createHash('sha256').update(state).digest('hex');
const tokenOwner = (accountId: string, connectionId: string): CredentialOwner => ({ accountId, connectionId: `${connectionId}#oauth` });

export interface S3OAuthDeps {
  s3: S3Sender;
  bucket: string;
  envelope: CredentialEnvelope;
}

/**
 * The OAuth records of remote connections as the (synchronous) store port the OAuth provider reads: records
 * are decrypted into memory by `load` before a login or a task uses them, and every change is sealed and
 * written behind at once (`flush` waits for those writes and throws the first failure). Keys are the
 * records' (`mcp-oauth:<server>`); `connectionOf` maps a server name to its connection id when they differ
 * (the agent's hub names servers by connection name).
 *
 * @example
 * const tokens = new S3OAuthTokenStore({ s3, bucket, envelope });
 * await tokens.load('acct-1', 'mcpc_1');                // Decrypt: only where allowed
 * new OAuthRecords(tokens, 'acct-1').get('mcpc_1');
 * await tokens.flush();
 */
export class S3OAuthTokenStore implements OAuthSecretStore {
  private readonly values = new Map<string, unknown>();
  private writes: Promise<void> = Promise.resolve();
  private failure: unknown;

  /**
   * @param options.persist false keeps changes in memory only (a login's start: what its callback needs travels
   *   in the sealed pending login, and the stored tokens stay usable until the callback replaces them). @default true
   */
  constructor(
    private readonly deps: S3OAuthDeps,
    private readonly connectionOf: (accountId: string, server: string) => string = (_a, server) => server,
    private readonly options: { persist?: boolean } = {},
  ) {}

  /** Reads and decrypts the record of `server` into memory; false when there is none. */
  async load(accountId: string, server: string): Promise<boolean> {
    const connectionId = this.connectionOf(accountId, server);
    let text: string;
    try {
      const out = await this.deps.s3.send(new GetObjectCommand({ Bucket: this.deps.bucket, Key: oauthKeys.tokens(accountId, connectionId) }));
      text = await out.Body!.transformToString();
    } catch (e) {
      if (isNoSuchKey(e)) return false;
      throw e;
    }
    const record = await this.deps.envelope.open(tokenOwner(accountId, connectionId), SealedCredentialsSchema.parse(JSON.parse(text)));
    this.values.set(this.slot(accountId, oauthRecordKey(server)), record);
    return true;
  }

  get<T = unknown>(accountId: string, key: string): T | undefined {
    return this.values.get(this.slot(accountId, key)) as T | undefined;
  }

  put(accountId: string, key: string, value: unknown): void {
    const connectionId = this.connectionOf(accountId, this.server(key));
    this.values.set(this.slot(accountId, key), value);
    this.behind(async () => {
      const sealed = await this.deps.envelope.seal(tokenOwner(accountId, connectionId), value as Record<string, unknown>);
      await this.deps.s3.send(
        new PutObjectCommand({ Bucket: this.deps.bucket, Key: oauthKeys.tokens(accountId, connectionId), Body: JSON.stringify(sealed), ContentType: 'application/json' }),
      );
    });
  }

  delete(accountId: string, key: string): boolean {
    const connectionId = this.connectionOf(accountId, this.server(key));
    const had = this.values.delete(this.slot(accountId, key));
    this.behind(async () => {
      await this.deps.s3.send(new DeleteObjectCommand({ Bucket: this.deps.bucket, Key: oauthKeys.tokens(accountId, connectionId) }));
    });
    return had;
  }

  /** Waits for the writes so far; throws the first that failed. */
  async flush(): Promise<void> {
    await this.writes;
    if (this.failure) {
      const e = this.failure;
      this.failure = undefined;
      throw e;
    }
  }

  private behind(write: () => Promise<void>): void {
    if (this.options.persist === false) return;
    // In order, so the last token saved is the one in the bucket.
    this.writes = this.writes.then(write).catch((e: unknown) => {
      this.failure ??= e;
    });
  }

  private server(key: string): string {
    const prefix = oauthRecordKey('');
    if (!key.startsWith(prefix)) throw new DeepAgentError('internal', `the S3 OAuth store keeps OAuth records only, not "${key}"`);
    return key.slice(prefix.length);
  }

  private slot(accountId: string, key: string): string {
    return `${accountId}\u0000${key}`;
  }
}

/**
 * Started logins in the bucket: created with `If-None-Match: *`, taken by a delete conditioned on the ETag
 * just read, so of two callbacks with the same state only one gets the login.
 *
 * @example
 * new HttpOAuthLogins({ store: tokens, pending: new S3PendingLogins({ s3, bucket, envelope }), resolve, flush: () => tokens.flush() });
 */
export class S3PendingLogins implements PendingLoginStore {
  constructor(private readonly deps: S3OAuthDeps) {}

  async create(state: string, login: PendingLogin): Promise<void> {
    const sealed = await this.deps.envelope.seal({ accountId: PENDING_LOGIN_ACCOUNT, connectionId: stateHash(state) }, login as unknown as Record<string, unknown>);
    try {
      await this.deps.s3.send(
        new PutObjectCommand({ Bucket: this.deps.bucket, Key: oauthKeys.pending(state), Body: JSON.stringify(sealed), ContentType: 'application/json', IfNoneMatch: '*' }),
      );
    } catch (e) {
      if (isPreconditionFailure(e)) throw new DeepAgentError('conflict', 'a login with this state already exists; start the login again');
      throw e;
    }
  }

  async take(state: string): Promise<PendingLogin | undefined> {
    const key = oauthKeys.pending(state);
    let text: string;
    let etag: string | undefined;
    try {
      const out = await this.deps.s3.send(new GetObjectCommand({ Bucket: this.deps.bucket, Key: key }));
      text = await out.Body!.transformToString();
      etag = out.ETag;
    } catch (e) {
      if (isNoSuchKey(e)) return undefined;
      throw e;
    }
    try {
      await this.deps.s3.send(new DeleteObjectCommand({ Bucket: this.deps.bucket, Key: key, ...(etag ? { IfMatch: etag } : {}) }));
    } catch (e) {
      if (isPreconditionFailure(e) || isNoSuchKey(e)) return undefined; // another callback took it first
      throw e;
    }
    const login = await this.deps.envelope.open({ accountId: PENDING_LOGIN_ACCOUNT, connectionId: stateHash(state) }, SealedCredentialsSchema.parse(JSON.parse(text)));
    return login as unknown as PendingLogin;
  }
}

export interface AwsOAuthLoginsDeps extends S3OAuthDeps {
  connections: Pick<AwsMcpConnections, 'remoteServer' | 'setLoginState'>;
  redactor?: Redactor;
  /** @default 600_000 */
  stateTtlMs?: number;
  clock?: () => number;
}

/**
 * The API function's OAuth logins of remote connections (`POST /mcp-connections/{id}/oauth/start`, the
 * public `GET /oauth/callback`, `DELETE /mcp-connections/{id}/oauth`): `{id}` is a connection id of the
 * caller's account; tokens are sealed into the bucket, the connection is marked running once logged in.
 * Each request works on a fresh in-memory view of the bucket (a Lambda instance serves many accounts).
 *
 * @example
 * createApiHandler({ ..., mcpOAuth: awsOAuthLogins({ s3, bucket, envelope, connections }) });
 */
export function awsOAuthLogins(deps: AwsOAuthLoginsDeps): McpOAuthBackend {
  const logins = (persist = true) => {
    const tokens = new S3OAuthTokenStore(deps, undefined, { persist });
    return new HttpOAuthLogins({
      store: tokens,
      pending: new S3PendingLogins(deps),
      resolve: (accountId, id) => deps.connections.remoteServer(accountId, id),
      flush: () => tokens.flush(),
      onLogin: (accountId, id) => deps.connections.setLoginState(accountId, id, true),
      ...(deps.redactor ? { redactor: deps.redactor } : {}),
      ...(deps.stateTtlMs !== undefined ? { stateTtlMs: deps.stateTtlMs } : {}),
      ...(deps.clock ? { clock: deps.clock } : {}),
    });
  };
  return {
    start: (accountId, id, callbackUrl) => logins(false).start(accountId, id, callbackUrl),
    complete: (query) => logins().complete(query),
    logout: async (accountId, id) => {
      if (!(await deps.connections.remoteServer(accountId, id))) throw new DeepAgentError('not_found', `no HTTP MCP server "${id}" to log in to`);
      await logins().logout(accountId, id);
      await deps.connections.setLoginState(accountId, id, false);
      return true;
    },
  };
}
