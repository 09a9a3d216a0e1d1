/**
 * Logging in over HTTP (`serve`): `start` builds the authorization URL with the public callback route as
 * the redirect URI and parks the PKCE verifier under a `state` that is single use, bound to the account
 * and the server, and short-lived (10 minutes); `complete` (the public callback) takes that state back
 * exactly once, exchanges the code and stores the tokens encrypted.
 */
import { createHash } from 'node:crypto';
import { DeepAgentError, toErrorInfo } from '../../errors/index.js';
import type { Redactor } from '../../secrets/index.js';
import type { HttpServerSpec } from '../config.js';
import { StoredOAuthProvider } from './provider.js';
import { OAuthRecords, type OAuthRecord, type OAuthSecretStore } from './store.js';

/** The credential-store account that holds pending logins (looked up by state alone: the callback is public). */
const PENDING_ACCOUNT = '__mcp_oauth_pending__';
const pendingKey = (state: string) => `mcp-oauth-state:${createHash('sha256').update(state).digest('hex')}`;

/** What a started login leaves for its callback: everything the code exchange needs, so the callback reads no other record. */
export interface PendingLogin {
  accountId: string;
  server: string;
  redirectUrl: string;
  codeVerifier: string;
  /** The client the start registered (or found), so the exchange uses the same one. */
  clientInformation?: OAuthRecord['clientInformation'];
  resourceMetadataUrl?: string;
  scope?: string;
  expiresAt: number;
}

/**
 * Where pending logins wait for their callback, looked up by `state` alone (the callback is public). `take`
 * returns a login at most once, whoever asks twice at the same time.
 */
export interface PendingLoginStore {
  create(state: string, login: PendingLogin): Promise<void>;
  take(state: string): Promise<PendingLogin | undefined>;
}

/**
 * Pending logins in the credential store itself (encrypted like the tokens), as `serve` keeps them.
 *
 * @example
 * new HttpOAuthLogins({ store, pending: credentialStorePendingLogins(store), resolve });
 */
export function credentialStorePendingLogins(store: OAuthSecretStore): PendingLoginStore {
  return {
    create: async (state, login) => store.put(PENDING_ACCOUNT, pendingKey(state), login),
    take: async (state) => {
      const login = store.get<PendingLogin>(PENDING_ACCOUNT, pendingKey(state));
      store.delete(PENDING_ACCOUNT, pendingKey(state));
      return login;
    },
  };
}

/** The port the HTTP routes call (`POST /mcp-connections/{id}/oauth/start`, `GET /oauth/callback`). */
export interface McpOAuthBackend {
  start(accountId: string, server: string, callbackUrl: string): Promise<{ authorizationUrl: string }>;
  complete(query: { state?: string; code?: string; error?: string; error_description?: string }): Promise<{ server: string; scopes?: string }>;
  /** Forgets the account's tokens for `server`; true when there were some. */
  logout(accountId: string, server: string): Promise<boolean>;
}

export interface HttpOAuthLoginsOptions {
  store: OAuthSecretStore;
  /** @default in `store` (credentialStorePendingLogins) */
  pending?: PendingLoginStore;
  /** The HTTP server an account may log in to under `server`, or undefined (answered 404). */
  resolve(accountId: string, server: string): HttpServerSpec | undefined | Promise<HttpServerSpec | undefined>;
  /** After tokens were stored or forgotten: a store that writes behind (S3) writes here. */
  flush?(): Promise<void>;
  /** After tokens were stored (e.g. reconnect the server in the running hub). */
  onLogin?(accountId: string, server: string): Promise<void> | void;
  redactor?: Redactor;
  /** @default 600_000 */
  stateTtlMs?: number;
  clock?: () => number;
}

/**
 * @example
 * const logins = new HttpOAuthLogins({ store: credentials, resolve: (_a, name) => httpServers[name] });
 * const { authorizationUrl } = await logins.start('local', 'notion', 'http://127.0.0.1:8787/oauth/callback');
 */
export class HttpOAuthLogins implements McpOAuthBackend {
  private readonly clock: () => number;
  private readonly pending: PendingLoginStore;

  constructor(private readonly options: HttpOAuthLoginsOptions) {
    this.clock = options.clock ?? Date.now;
    this.pending = options.pending ?? credentialStorePendingLogins(options.store);
  }

  async start(accountId: string, server: string, callbackUrl: string): Promise<{ authorizationUrl: string }> {
    const spec = await this.spec(accountId, server);
    const records = new OAuthRecords(this.options.store, accountId);
    const previous = records.get(server, spec.url);
    const keepClient = previous?.clientInformation && previous.redirectUrl === callbackUrl;
    records.put(server, { serverUrl: spec.url, redirectUrl: callbackUrl, ...(keepClient ? { clientInformation: previous!.clientInformation } : {}) });
    let authorizationUrl: URL | undefined;
    const provider = this.provider(records, server, spec, callbackUrl, async (url) => {
      authorizationUrl = url;
      return '';
    });
    const hints = await probe(spec);
    const { auth } = await import('@modelcontextprotocol/sdk/client/auth.js');
    try {
      await auth(provider, { serverUrl: spec.url, ...hints });
    } catch (e) {
      throw new DeepAgentError('mcp_error', `cannot start the login to ${server}: ${this.describe(e)}`);
    }
    if (!authorizationUrl) throw new DeepAgentError('conflict', `${server} needs no login`);
    const state = authorizationUrl.searchParams.get('state')!;
    const pending: PendingLogin = {
      accountId,
      server,
      redirectUrl: callbackUrl,
      codeVerifier: provider.codeVerifier(),
      ...(records.get(server)?.clientInformation ? { clientInformation: records.get(server)!.clientInformation } : {}),
      ...(hints.resourceMetadataUrl ? { resourceMetadataUrl: hints.resourceMetadataUrl.toString() } : {}),
      ...(hints.scope ? { scope: hints.scope } : {}),
      expiresAt: this.clock() + (this.options.stateTtlMs ?? 600_000),
    };
    await this.pending.create(state, pending);
    await this.options.flush?.();
    return { authorizationUrl: authorizationUrl.toString() };
  }

  async complete(query: { state?: string; code?: string; error?: string; error_description?: string }): Promise<{ server: string; scopes?: string }> {
    if (!query.state) throw new DeepAgentError('invalid_input', 'the callback carries no state');
    const pending = await this.pending.take(query.state); // single use, whatever happens next
    if (!pending || pending.expiresAt <= this.clock()) {
      throw new DeepAgentError('invalid_input', 'this login link is unknown, already used or expired; start the login again');
    }
    if (query.error) throw new DeepAgentError('invalid_input', `the authorization server refused the login: ${query.error}${query.error_description ? ` (${query.error_description})` : ''}`);
    if (!query.code) throw new DeepAgentError('invalid_input', 'the callback carries no authorization code');
    const spec = await this.spec(pending.accountId, pending.server);
    const records = new OAuthRecords(this.options.store, pending.accountId);
    // The client of the start, whatever the record holds now (a store that cannot be read here, S3, holds nothing).
    records.put(pending.server, {
      ...(records.get(pending.server, spec.url) ?? { serverUrl: spec.url }),
      redirectUrl: pending.redirectUrl,
      ...(pending.clientInformation ? { clientInformation: pending.clientInformation } : {}),
    });
    const provider = this.provider(records, pending.server, spec, pending.redirectUrl);
    provider.saveCodeVerifier(pending.codeVerifier);
    const { auth } = await import('@modelcontextprotocol/sdk/client/auth.js');
    try {
      await auth(provider, {
        serverUrl: spec.url,
        authorizationCode: query.code,
        ...(pending.resourceMetadataUrl ? { resourceMetadataUrl: new URL(pending.resourceMetadataUrl) } : {}),
        ...(pending.scope ? { scope: pending.scope } : {}),
      });
    } catch (e) {
      throw new DeepAgentError('mcp_error', `the login to ${pending.server} failed: ${this.describe(e)}`);
    }
    await this.options.flush?.();
    await this.options.onLogin?.(pending.accountId, pending.server);
    const scopes = provider.grantedScopes();
    return { server: pending.server, ...(scopes ? { scopes } : {}) };
  }

  async logout(accountId: string, server: string): Promise<boolean> {
    const forgotten = new OAuthRecords(this.options.store, accountId).delete(server);
    await this.options.flush?.();
    return forgotten;
  }

  private async spec(accountId: string, server: string): Promise<HttpServerSpec> {
    const spec = await this.options.resolve(accountId, server);
    if (!spec) throw new DeepAgentError('not_found', `no HTTP MCP server "${server}" to log in to`);
    return spec;
  }

  private provider(records: OAuthRecords, server: string, spec: HttpServerSpec, redirectUrl: string, authorizer?: (url: URL) => Promise<string>) {
    return new StoredOAuthProvider({
      server,
      serverUrl: spec.url,
      records,
      settings: spec.oauth ?? {},
      redirectUrl,
      ...(authorizer ? { authorizer } : {}),
      ...(this.options.redactor ? { redactor: this.options.redactor } : {}),
    });
  }

  private describe(e: unknown): string {
    const m = toErrorInfo(e).message.split('\n')[0]!.slice(0, 300);
    return this.options.redactor ? this.options.redactor.redactString(m) : m;
  }
}

/** What the server's 401 says (resource metadata URL, scope), as the transport would have learnt it. */
async function probe(spec: HttpServerSpec): Promise<{ resourceMetadataUrl?: URL; scope?: string }> {
  try {
    const { LATEST_PROTOCOL_VERSION } = await import('@modelcontextprotocol/sdk/types.js');
    const res = await fetch(spec.url, {
      method: 'POST',
      headers: { ...spec.headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'deep-agent', version: '0.1.0' } } }),
      signal: AbortSignal.timeout(15_000),
    });
    await res.body?.cancel().catch(() => {});
    if (res.status !== 401) return {};
    const { extractWWWAuthenticateParams } = await import('@modelcontextprotocol/sdk/client/auth.js');
    const { resourceMetadataUrl, scope } = extractWWWAuthenticateParams(res);
    return { ...(resourceMetadataUrl ? { resourceMetadataUrl } : {}), ...(scope ? { scope } : {}) };
  } catch {
    return {}; // discovery falls back to the well-known paths
  }
}
