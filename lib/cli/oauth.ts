/** The CLI's OAuth plumbing: tokens in the local credentials table (account `local`), browser logins. */
import type { DatabaseSync } from 'node:sqlite';
import type { Config } from '../config/index.js';
import { CredentialStore, LOCAL_ACCOUNT, loadSecretKey, openDatabase } from '../local/index.js';
import { HttpOAuthLogins, loopbackAuthorizer, OAuthRecords, resolveMcpServers, type InteractiveAuthorizer, type McpHub, type OAuthSecretStore } from '../mcp/index.js';
import type { Redactor } from '../secrets/index.js';
import type { CliIo } from './io.js';

/** The local credentials table, keyed as `serve` and the connection manager key it. */
export function localCredentials(config: Config, db: DatabaseSync): CredentialStore {
  const secretKey = config.serve.secretKey;
  return new CredentialStore(db, loadSecretKey({ home: config.home, ...(secretKey ? { secretKey } : {}) }));
}

/**
 * OAuth records of the local account, encrypted with `DEEP_AGENT_SECRET_KEY` or `<home>/secret.key`.
 *
 * @example
 * const records = localOAuthRecords(config, openDatabase(config.home));
 */
export function localOAuthRecords(config: Config, db: DatabaseSync): OAuthRecords {
  return new OAuthRecords(localCredentials(config, db), LOCAL_ACCOUNT);
}

/**
 * The local account's OAuth records on a database opened at first use: a run whose key is missing (checked
 * by the assembly before any server connects) creates nothing under DEEP_AGENT_HOME.
 *
 * @example
 * const oauth = lazyLocalOAuth(config);
 * await assembleAgent(config, { mcpOAuth: { records: oauth.records } });
 * oauth.close();
 */
export function lazyLocalOAuth(config: Config): { records: OAuthRecords; store: OAuthSecretStore; close(): void } {
  let db: DatabaseSync | undefined;
  let credentials: CredentialStore | undefined;
  const open = () => {
    if (!credentials) {
      db = openDatabase(config.home);
      credentials = localCredentials(config, db);
    }
    return credentials;
  };
  const store: OAuthSecretStore = {
    get: (a, k) => open().get(a, k),
    put: (a, k, v) => open().put(a, k, v),
    delete: (a, k) => open().delete(a, k),
  };
  return {
    records: new OAuthRecords(store, LOCAL_ACCOUNT),
    store,
    close: () => {
      if (db?.isOpen) db.close();
    },
  };
}

/**
 * A browser authorizer when a person can answer: `$BROWSER` is set or a terminal is attached.
 *
 * @example
 * const authorizer = terminalAuthorizer(io, config); // undefined under a scheduler or a pipe
 */
export function terminalAuthorizer(io: CliIo, config: Config, options: { always?: boolean } = {}): InteractiveAuthorizer | undefined {
  const browser = config.cli.browser?.trim();
  if (!options.always && !browser && !io.stdin.isTTY) return undefined;
  return loopbackAuthorizer({ ...(browser ? { browser } : {}), write: (line) => io.stderr.write(line) });
}

/**
 * HTTP logins (`serve`) for the HTTP servers of `.mcp.json`, by name, for the local account; a completed
 * login reconnects the server in the running hub.
 *
 * @example
 * startLocalService({ ..., mcpOAuth: localHttpOAuthLogins(config, oauth.store, agent.mcp.hub) });
 */
export function localHttpOAuthLogins(config: Config, store: OAuthSecretStore, hub: McpHub, redactor?: Redactor): HttpOAuthLogins {
  const servers = () => resolveMcpServers(config).servers;
  return new HttpOAuthLogins({
    store,
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
