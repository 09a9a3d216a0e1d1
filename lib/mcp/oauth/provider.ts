/**
 * The SDK's `OAuthClientProvider` over our encrypted record: the MCP SDK runs the protocol (discovery,
 * registration, PKCE, the `resource` parameter, scope selection, token requests, refresh on 401, step-up on
 * `insufficient_scope`); this class stores what it hands us and decides what happens when a person is needed.
 *
 * Without an `authorizer` nobody can approve anything (a task in `serve`, a worker, a Lambda): a flow that
 * needs a person throws `mcp_login_required` instead of registering a client or waiting for a browser.
 */
import { randomBytes } from 'node:crypto';
import type { OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { DeepAgentError } from '../../errors/index.js';
import type { Redactor } from '../../secrets/index.js';
import type { OAuthSettings } from '../config.js';
import type { OAuthRecord, OAuthRecords } from './store.js';

/** Code of the error thrown when a flow needs a person: recognise it by this, not by class. */
export const LOGIN_REQUIRED = 'mcp_login_required';

/**
 * Opens `authorizationUrl` for a person and resolves with the `code` that comes back to `redirectUrl`
 * (whose `state` must equal `state`).
 */
export type InteractiveAuthorizer = (authorizationUrl: URL, redirectUrl: string, state: string) => Promise<string>;

/** The command a person runs to log in to `server`. */
export const loginCommand = (server: string): string => `deep-agent mcp login ${server}`;

/**
 * @example
 * throw loginRequired('notion', 'no stored login');
 */
export function loginRequired(server: string, why: string, scope?: string): DeepAgentError {
  return new DeepAgentError(LOGIN_REQUIRED, `MCP server "${server}" needs a login (${why}): run ${loginCommand(server)}`, {
    server,
    command: loginCommand(server),
    ...(scope ? { scope } : {}),
  });
}

/** True for the error a flow that needs a person throws, however deep the SDK wrapped it. */
export function isLoginRequired(err: unknown): err is DeepAgentError {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code === LOGIN_REQUIRED) return true;
  }
  return false;
}

export interface StoredOAuthProviderOptions {
  /** The server's name (`.mcp.json` key or connection id): the record's key and the login command's argument. */
  server: string;
  serverUrl: string;
  records: OAuthRecords;
  settings?: OAuthSettings;
  /** The loopback redirect URI; without it the one stored by the last login. */
  redirectUrl?: string;
  /** Present where a person can approve in a browser (`mcp login`, a CLI run's step-up). */
  authorizer?: InteractiveAuthorizer;
  /** Every token value is registered here, so no log, event or error shows it. */
  redactor?: Redactor;
  clock?: () => number;
}

/**
 * @example
 * const provider = new StoredOAuthProvider({ server: 'notion', serverUrl, records, redirectUrl, authorizer });
 * const transport = new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider });
 */
export class StoredOAuthProvider implements OAuthClientProvider {
  private verifier: string | undefined;
  private expectedState: string | undefined;
  private pending: Promise<string> | undefined;
  /** Whether a browser may be opened now; the hub turns it on only around a tool call (step-up). */
  interactive: boolean;
  private readonly clock: () => number;

  constructor(private readonly options: StoredOAuthProviderOptions) {
    this.interactive = options.authorizer !== undefined;
    this.clock = options.clock ?? Date.now;
    const r = this.record();
    this.protect(r?.tokens);
  }

  get server(): string {
    return this.options.server;
  }

  get serverUrl(): string {
    return this.options.serverUrl;
  }

  get redirectUrl(): string | undefined {
    return this.options.redirectUrl ?? this.record()?.redirectUrl;
  }

  get clientMetadataUrl(): string | undefined {
    return this.options.settings?.clientMetadataUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    const s = this.options.settings;
    return {
      client_name: 'deep-agent',
      redirect_uris: this.redirectUrl ? [this.redirectUrl] : [],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: s?.clientSecret ? 'client_secret_basic' : 'none',
      ...(s?.scopes ? { scope: s.scopes } : {}),
    };
  }

  state(): string {
    this.expectedState = randomBytes(16).toString('base64url');
    return this.expectedState;
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    const s = this.options.settings;
    if (s?.clientId) return { client_id: s.clientId, ...(s.clientSecret ? { client_secret: s.clientSecret } : {}) };
    const stored = this.record()?.clientInformation;
    // Registering a client that nobody will ever approve only litters the authorization server.
    if (!stored && !this.canAskPerson()) throw loginRequired(this.options.server, 'no stored login');
    return stored;
  }

  saveClientInformation(info: OAuthClientInformationMixed): void {
    if (this.options.settings?.clientId) return; // pre-registered: the config entry is the source of truth
    this.protect({ client_secret: info.client_secret } as never);
    this.update({ clientInformation: info });
  }

  tokens(): OAuthTokens | undefined {
    return this.record()?.tokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.protect(tokens);
    this.update({ tokens, ...(tokens.expires_in !== undefined ? { expiresAt: this.clock() + tokens.expires_in * 1000 } : { expiresAt: undefined }) });
  }

  redirectToAuthorization(authorizationUrl: URL): void {
    const scope = authorizationUrl.searchParams.get('scope') ?? undefined;
    if (!this.canAskPerson()) {
      const why = this.record()?.tokens ? (scope ? `the server asks for scope "${scope}"` : 'the stored login expired or was revoked') : 'no stored login';
      throw loginRequired(this.options.server, why, scope);
    }
    const redirectUrl = this.redirectUrl;
    if (!redirectUrl || !this.expectedState) throw new DeepAgentError('internal', 'an OAuth authorization started without a redirect URI or state');
    this.pending = this.options.authorizer!(authorizationUrl, redirectUrl, this.expectedState);
    this.pending.catch(() => {}); // awaited by takeAuthorizationCode(); never an unhandled rejection
  }

  /** The code of the authorization just opened in a browser; throws when none was started. */
  async takeAuthorizationCode(): Promise<string> {
    const p = this.pending;
    this.pending = undefined;
    if (!p) throw loginRequired(this.options.server, 'the server refused the token and no browser login was started');
    return p;
  }

  saveCodeVerifier(codeVerifier: string): void {
    this.verifier = codeVerifier;
  }

  codeVerifier(): string {
    if (!this.verifier) throw new DeepAgentError('internal', 'no PKCE code verifier was saved for this login');
    return this.verifier;
  }

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    // Only a login creates a record; discovery alone (a server probed by `mcp list`) leaves nothing behind.
    if (this.record()) this.update({ discoveryState: state });
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.record()?.discoveryState;
  }

  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    if (scope === 'verifier' || scope === 'all') this.verifier = undefined;
    const patch: Partial<OAuthRecord> = {};
    if (scope === 'tokens' || scope === 'all') Object.assign(patch, { tokens: undefined, expiresAt: undefined });
    if (scope === 'client' || scope === 'all') patch.clientInformation = undefined;
    if (scope === 'discovery' || scope === 'all') patch.discoveryState = undefined;
    if (Object.keys(patch).length) this.update(patch);
  }

  /** True when the access token expires within `marginMs` and a refresh token can renew it. */
  expiresSoon(marginMs = 60_000): boolean {
    const r = this.record();
    return !!r?.tokens?.refresh_token && r.expiresAt !== undefined && r.expiresAt - this.clock() < marginMs;
  }

  /** The scopes the stored token was granted (as the token response said), or undefined. */
  grantedScopes(): string | undefined {
    return this.record()?.tokens?.scope;
  }

  private canAskPerson(): boolean {
    return this.interactive && this.options.authorizer !== undefined;
  }

  private record(): OAuthRecord | undefined {
    return this.options.records.get(this.options.server, this.options.serverUrl);
  }

  private update(patch: Partial<OAuthRecord>): void {
    const current = this.record() ?? { serverUrl: this.options.serverUrl };
    const next: OAuthRecord = { ...current, ...patch, serverUrl: this.options.serverUrl };
    if (this.options.redirectUrl) next.redirectUrl = this.options.redirectUrl;
    for (const k of Object.keys(next) as (keyof OAuthRecord)[]) if (next[k] === undefined) delete next[k];
    this.options.records.put(this.options.server, next);
  }

  private protect(tokens: Partial<OAuthTokens> & { client_secret?: string } | undefined): void {
    if (!tokens || !this.options.redactor) return;
    this.options.redactor.add(tokens.access_token);
    this.options.redactor.add(tokens.refresh_token);
    this.options.redactor.add(tokens.id_token);
    this.options.redactor.add(tokens.client_secret);
  }
}
