/**
 * The MCP connection manager: a catalog of server definitions, per-account installs that each run in a
 * sandbox of their own, encrypted credentials, health checks with one restart, and timeout extension.
 *
 * Wiring in `serve`:
 *   const connections = await openLocalMcpConnections({ home: config.home, secretKey, catalogFile: config.mcp.catalogPath });
 *   await startLocalService({ ..., mcpConnections: connections.manager });
 *   finally: await connections.close();
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { BubblewrapSandboxProvider, type SandboxProvider } from '../sandbox/index.js';
import { CredentialStore, loadSecretKey, openDatabase } from '../local/index.js';
import { mcpServerRuntime, SANDBOX_NODE_MODULES } from '../mcp/index.js';
import { loadCatalog } from './catalog.js';
import { McpConnectionManager, type McpConnectionManagerOptions } from './manager.js';

export * from './catalog.js';
export * from './store.js';
export * from './manager.js';

export interface LocalMcpConnectionsOptions {
  /** DEEP_AGENT_HOME: the SQLite file and the connection sandboxes' workspaces live here. */
  home: string;
  /** The value of DEEP_AGENT_SECRET_KEY; without it `<home>/secret.key`. */
  secretKey?: string;
  /** DEEP_AGENT_MCP_CATALOG: a JSON file `{ "definitions": [...] }` added to the built-in catalog. */
  catalogFile?: string;
  /** @default bubblewrap with the project's Node and node_modules mounted read-only */
  sandboxProvider?: SandboxProvider;
  /**
   * Node and node_modules as the connection sandboxes see them, for `{node}` and `{nodeModules}`.
   * @default this installation's, mounted read-only (bubblewrap); on E2B `node` and SANDBOX_NODE_MODULES, which a template must provide
   */
  runtime?: McpConnectionManagerOptions['runtime'];
  /** The run's redactor (the task store's): connection credentials are added to it. */
  redactor?: McpConnectionManagerOptions['redactor'];
  healthIntervalMs?: number;
  healthTimeoutMs?: number;
  onError?: McpConnectionManagerOptions['onError'];
}

export interface LocalMcpConnections {
  manager: McpConnectionManager;
  db: DatabaseSync;
  /** Closes every connection sandbox (records keep their status for the next start) and the database. */
  close(): Promise<void>;
}

/**
 * Opens the manager on `<home>/deep-agent.db` and restarts the connections that were running.
 *
 * @example
 * const { manager, close } = await openLocalMcpConnections({ home: config.home });
 * await manager.install('local', { definitionId: 'everything' });
 * await close();
 */
export async function openLocalMcpConnections(options: LocalMcpConnectionsOptions): Promise<LocalMcpConnections> {
  const catalog = loadCatalog(options.catalogFile);
  const runtime = mcpServerRuntime();
  const db = openDatabase(options.home);
  const credentials = new CredentialStore(db, loadSecretKey({ home: options.home, ...(options.secretKey ? { secretKey: options.secretKey } : {}) }));
  const sandboxProvider = options.sandboxProvider ?? new BubblewrapSandboxProvider({ home: options.home, readOnlyMounts: runtime.mounts });
  const manager = new McpConnectionManager({
    db,
    credentials,
    sandboxProvider,
    // Local sandboxes keep <home>/workspaces/<taskId> and <home>/sandbox-homes/<taskId> after close().
    ...(sandboxProvider.name !== 'e2b' ? { removeSandboxFiles: (taskId: string) => removeLocalSandboxFiles(options.home, taskId) } : {}),
    // A remote sandbox (E2B) cannot mount this machine's Node: its template's node and modules are named.
    runtime: options.runtime ?? (sandboxProvider.name === 'e2b' ? { node: 'node', nodeModules: SANDBOX_NODE_MODULES } : runtime),
    catalog,
    ...(options.redactor ? { redactor: options.redactor } : {}),
    ...(options.healthIntervalMs !== undefined ? { healthIntervalMs: options.healthIntervalMs } : {}),
    ...(options.healthTimeoutMs !== undefined ? { healthTimeoutMs: options.healthTimeoutMs } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  });
  await manager.start();
  return {
    manager,
    db,
    close: async () => {
      await manager.close();
      if (db.isOpen) db.close();
    },
  };
}

/**
 * Deletes a local sandbox's host directories, `<home>/workspaces/<taskId>` and `<home>/sandbox-homes/<taskId>`.
 *
 * @example
 * await removeLocalSandboxFiles(config.home, sandboxTaskId(connection.id));
 */
export async function removeLocalSandboxFiles(home: string, taskId: string): Promise<void> {
  await Promise.all(['workspaces', 'sandbox-homes'].map((dir) => rm(join(home, dir, taskId), { recursive: true, force: true })));
}
