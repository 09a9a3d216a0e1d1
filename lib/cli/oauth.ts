/** The CLI's OAuth plumbing: tokens in the local credentials table (account `local`), browser logins. */
import type { DatabaseSync } from 'node:sqlite';
import type { Config } from '../config/index.js';
import { CredentialStore, LOCAL_ACCOUNT, loadSecretKey, openDatabase } from '../local/index.js';
import { HttpOAuthLogins, loopbackAuthorizer, OAuthRecords, resolveMcpServers, type InteractiveAuthorizer, type McpHub, type OAuthSecretStore } from '../mcp/index.js';
import type { McpConnectionManager } from '../mcp-connections/index.js';
import type { Redactor } from '../secrets/index.js';
import type { Tool } from '../tools/index.js';
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

/** The part of the connection manager HTTP logins need: its remote connections, and a reconnect. */
export type RemoteConnections = Pick<McpConnectionManager, 'remoteServer' | 'reconnect'>;

/**
 * HTTP logins (`serve`): `{id}` is a remote connection's id (any account, tokens under that account and
 * connection id), or else the name of an HTTP server of `.mcp.json` (the local account); a completed login
 * reconnects the connection, or the server in the running hub.
 *
 * @example
 * startLocalService({ ..., mcpOAuth: localHttpOAuthLogins(config, oauth.store, agent.mcp.hub, agent.redactor, connections.manager) });
 */
export function localHttpOAuthLogins(config: Config, store: OAuthSecretStore, hub: McpHub, redactor?: Redactor, connections?: RemoteConnections): HttpOAuthLogins {
  const servers = () => resolveMcpServers(config).servers;
  return new HttpOAuthLogins({
    store,
    resolve: (accountId, id) => {
      const remote = connections?.remoteServer(accountId, id);
      if (remote) return remote;
      const spec = accountId === LOCAL_ACCOUNT ? servers()[id] : undefined;
      return spec && spec.transport !== 'stdio' ? spec : undefined;
    },
    onLogin: async (accountId, id) => {
      if (connections?.remoteServer(accountId, id)) {
        await connections.reconnect(accountId, id);
        return;
      }
      const spec = servers()[id];
      if (spec) await hub.addServer(id, spec);
    },
    ...(redactor ? { redactor } : {}),
  });
}

/**
 * A task's options with the account's connections added (`serve`): the running ones' tools (a name the
 * assembled agent already has wins), and those waiting for a login listed in `task.started` and named to
 * the model.
 *
 * @example
 * taskOptions: (record) => withAccountConnections(agent.taskOptions(record.mcpServers), connections.manager, record.accountId ?? LOCAL_ACCOUNT),
 */
export function withAccountConnections<T extends { tools?: Tool[]; instructions?: string; startInfo?: Record<string, unknown> }>(
  base: T,
  manager: Pick<McpConnectionManager, 'toolsFor' | 'unavailable'>,
  accountId: string,
): T {
  const taken = new Set(base.tools?.map((t) => t.name));
  const installed = manager.toolsFor(accountId).filter((t) => !taken.has(t.name));
  return withUnavailableConnections({ ...base, tools: [...(base.tools ?? []), ...installed] }, manager.unavailable(accountId));
}

function withUnavailableConnections<T extends { instructions?: string; startInfo?: Record<string, unknown> }>(
  options: T,
  unavailable: { name: string; state: string; reason?: string; login?: string }[],
): T {
  if (unavailable.length === 0) return options;
  const listed = (options.startInfo?.mcpServers as unknown[] | undefined) ?? [];
  const note = `These MCP connections are not available in this task: ${unavailable.map((c) => `${c.name} (${c.reason ?? c.state})`).join('; ')}. Work without them or say what is missing.`;
  return {
    ...options,
    instructions: options.instructions ? `${options.instructions}\n${note}` : note,
    startInfo: { ...options.startInfo, mcpServers: [...listed, ...unavailable] },
  };
}
