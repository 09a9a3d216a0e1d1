/** Assembles the local runtime for CLI commands: SQLite store under DEEP_AGENT_HOME, the sandbox, the model, MCP. */
import { join } from 'node:path';
import { requireModelCredentials, requireSandboxCredentials, type Config } from '../config/index.js';
import { openDatabase, SqliteTaskStore } from '../local/index.js';
import { attachMcp, mcpServerRuntime, type AttachedMcp } from '../mcp/index.js';
import { createModelClient, type ModelClient } from '../model/index.js';
import { createSandboxProvider, type SandboxProvider } from '../sandbox/index.js';
import { redactorFromEnv, type Redactor } from '../secrets/index.js';
import type { Tool } from '../tools/index.js';
import type { ApprovalPolicy, RunTaskOptions } from '../agent/index.js';
import type { InteractiveAuthorizer } from '../mcp/index.js';
import { localOAuthRecords } from './oauth.js';

export interface LocalRuntime {
  config: Config;
  store: SqliteTaskStore;
  model: ModelClient;
  sandboxProvider: SandboxProvider;
  mcp: AttachedMcp;
  /** Every MCP tool and the MCP builder tools. */
  tools: Tool[];
  approvalPolicy?: ApprovalPolicy;
  /** What runTask needs for a task that selects `servers` (all attached servers when absent). */
  taskOptions(servers?: string[]): Pick<RunTaskOptions, 'tools' | 'approvalPolicy' | 'instructions' | 'startInfo'>;
  logDir: string;
  /** The run's redactor (environment secrets, and every OAuth token the hub sees). */
  redactor: Redactor;
  close(): Promise<void>;
}

/**
 * Checks credentials first (one clear line when one is missing), then opens everything a local run needs.
 *
 * @example
 * const rt = await openLocalRuntime(loadConfig(process.env));
 */
export async function openLocalRuntime(config: Config, options: { oauthAuthorizer?: InteractiveAuthorizer } = {}): Promise<LocalRuntime> {
  requireModelCredentials(config);
  requireSandboxCredentials(config);
  const db = openDatabase(config.home);
  // One redactor for the run: the store redacts with it, and the MCP hub adds every OAuth token it sees.
  const redactor = redactorFromEnv(config.env);
  const store = new SqliteTaskStore(db, { redactor });
  const model = await createModelClient(config);
  // Built MCP servers run with the project's own Node and MCP SDK, mounted read-only: building works offline.
  const runtime = mcpServerRuntime();
  const sandboxProvider = await createSandboxProvider(config, { readOnlyMounts: runtime.mounts });
  const oauth = { records: localOAuthRecords(config, db), ...(options.oauthAuthorizer ? { authorizer: options.oauthAuthorizer } : {}) };
  const mcp = await attachMcp(config, { sandboxProvider, runtime, oauth, redactor });
  const tools = mcp.toolsFor();
  return {
    config,
    store,
    model,
    sandboxProvider,
    mcp,
    tools,
    ...(mcp.approvalPolicy ? { approvalPolicy: mcp.approvalPolicy } : {}),
    taskOptions: (servers) => mcp.taskOptions(servers),
    logDir: join(config.home, 'logs'),
    redactor,
    async close() {
      await mcp.close();
      db.close();
    },
  };
}
