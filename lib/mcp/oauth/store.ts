/**
 * Where an MCP server's OAuth state lives: one encrypted record per account and server in the runtime's
 * credential store (SQLite `credentials` locally, AES-256-GCM). The record holds the client registration,
 * the tokens and the discovery results, so a later process refreshes without a person.
 */
import type { OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

/**
 * The credential store port (`CredentialStore` of lib/local satisfies it): JSON values encrypted per
 * account and key.
 */
export interface OAuthSecretStore {
  get<T = unknown>(accountId: string, key: string): T | undefined;
  put(accountId: string, key: string, value: unknown): void;
  delete(accountId: string, key: string): boolean;
}

/** What one login leaves behind; never written in plain text. */
export interface OAuthRecord {
  /** The MCP server URL the record was made for; a record for another URL is ignored. */
  serverUrl: string;
  /** The loopback redirect URI the client registered (reused so a dynamic registration stays valid). */
  redirectUrl?: string;
  clientInformation?: OAuthClientInformationMixed;
  tokens?: OAuthTokens;
  /** Epoch ms when the access token expires (from `expires_in` at the time it was saved). */
  expiresAt?: number;
  discoveryState?: OAuthDiscoveryState;
  codeVerifier?: string;
}

/** The credential-store key of a server's OAuth record: `mcp-oauth:<server name or connection id>`. */
export const oauthRecordKey = (server: string): string => `mcp-oauth:${server}`;

/**
 * Reads and writes one server's record.
 *
 * @example
 * const records = new OAuthRecords(credentials, 'local');
 * records.delete('notion'); // `mcp logout notion`
 */
export class OAuthRecords {
  constructor(
    private readonly store: OAuthSecretStore,
    readonly accountId: string,
  ) {}

  /** The record for `server`, when it was made for `serverUrl` (any URL when absent). */
  get(server: string, serverUrl?: string): OAuthRecord | undefined {
    const r = this.store.get<OAuthRecord>(this.accountId, oauthRecordKey(server));
    if (!r || (serverUrl !== undefined && r.serverUrl !== serverUrl)) return undefined;
    return r;
  }

  put(server: string, record: OAuthRecord): void {
    this.store.put(this.accountId, oauthRecordKey(server), record);
  }

  /** Returns true when something was forgotten. */
  delete(server: string): boolean {
    return this.store.delete(this.accountId, oauthRecordKey(server));
  }
}
