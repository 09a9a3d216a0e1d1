/** The CLI's OAuth plumbing: tokens in the local credentials table (account `local`), browser logins. */
import type { DatabaseSync } from 'node:sqlite';
import type { Config } from '../config/index.js';
import { CredentialStore, LOCAL_ACCOUNT, loadSecretKey } from '../local/index.js';
import { HttpOAuthLogins, loopbackAuthorizer, OAuthRecords, resolveMcpServers, type InteractiveAuthorizer, type McpHub } from '../mcp/index.js';
import type { Redactor } from '../secrets/index.js';
import type { CliIo } from './io.js';

/**
 * OAuth records of the local account, encrypted with `DEEP_AGENT_SECRET_KEY` or `<home>/secret.key`.
 *
 * @example
 * const records = localOAuthRecords(config, openDatabase(config.home));
 */
export function localOAuthRecords(config: Config, db: DatabaseSync): OAuthRecords {
  return new OAuthRecords(localCredentials(config, db), LOCAL_ACCOUNT);
}

/** The local credentials table, keyed as `serve` and the connection manager key it. */
export function localCredentials(config: Config, db: DatabaseSync): CredentialStore {
  const secretKey = config.env.DEEP_AGENT_SECRET_KEY;
  return new CredentialStore(db, loadSecretKey({ home: config.home, ...(secretKey ? { secretKey } : {}) }));
}

/**
 * HTTP logins (`serve`) for the HTTP servers of `.mcp.json`, by name, for the local account; a completed
 * login reconnects the server in the running hub.
 *
 * @example
 * startLocalService({ ..., mcpOAuth: localHttpOAuthLogins(config, db, rt.mcp.hub) });
 */
export function localHttpOAuthLogins(config: Config, db: DatabaseSync, hub: McpHub, redactor?: Redactor): HttpOAuthLogins {
  const servers = () => resolveMcpServers(config).servers;
  return new HttpOAuthLogins({
    store: localCredentials(config, db),
    resolve: (accountId, name) => {
      const spec = accountId === LOCAL_ACCOUNT ? servers()[name] : undefined;
      return spec && spec.transport !== 'stdio' ? spec : undefined;
    },
    onLogin: async (_accountId, name) => {
      const spec = servers()[name];
      if (spec) await hub.addServer(name, spec);
    },
    ...(redactor ? { redactor } : {}),
  });
}

/**
 * A browser authorizer when a person can answer: `$BROWSER` is set or a terminal is attached.
 *
 * @example
 * const authorizer = terminalAuthorizer(io); // undefined under a scheduler or a pipe
 */
export function terminalAuthorizer(io: CliIo, options: { always?: boolean } = {}): InteractiveAuthorizer | undefined {
  const browser = io.env.BROWSER?.trim();
  if (!options.always && !browser && !io.stdin.isTTY) return undefined;
  return loopbackAuthorizer({ ...(browser ? { browser } : {}), write: (line) => io.stderr.write(line) });
}
