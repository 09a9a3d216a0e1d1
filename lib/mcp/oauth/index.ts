/**
 * OAuth 2.1 for remote (HTTP) MCP servers, after the MCP authorization spec (2025-11-25), on the MCP SDK's
 * client auth (`auth()`, discovery, PKCE, dynamic registration, Client ID Metadata Documents). This folder
 * adds what the SDK leaves to an application: an encrypted per-account record (`OAuthRecords`), a provider
 * that never waits for a person where none can answer (`StoredOAuthProvider`), the CLI's loopback login
 * (`loopbackAuthorizer`, `loginMcpServer`), and refresh before expiry.
 *
 * Wiring (CLI):
 *   const records = new OAuthRecords(credentialStore, 'local');
 *   await loginMcpServer({ server, spec, records, authorizer: loopbackAuthorizer({ browser: env.BROWSER, write }) });
 *   new McpHub({ ..., oauth: { records } });   // tokens used, refreshed; `needs_login` when a person is needed
 */
export * from './store.js';
export * from './provider.js';
export * from './loopback.js';
export * from './login.js';
export * from './http-login.js';
