/** Assembles the local runtime for CLI commands: SQLite store under DEEP_AGENT_HOME, the sandbox, the model. */
import { join } from 'node:path';
import { requireModelCredentials, requireSandboxCredentials, type Config } from '../config/index.js';
import { openDatabase, SqliteTaskStore } from '../local/index.js';
import { createModelClient, type ModelClient } from '../model/index.js';
import { createSandboxProvider, type SandboxProvider } from '../sandbox/index.js';
import { redactorFromEnv } from '../secrets/index.js';
import type { Tool } from '../tools/index.js';
import type { ApprovalPolicy } from '../agent/index.js';

export interface LocalRuntime {
  config: Config;
  store: SqliteTaskStore;
  model: ModelClient;
  sandboxProvider: SandboxProvider;
  /** Extra tools (MCP) and the approval policy that goes with them. */
  tools: Tool[];
  approvalPolicy?: ApprovalPolicy;
  logDir: string;
  close(): Promise<void>;
}

/**
 * Checks credentials first (one clear line when one is missing), then opens everything a local run needs.
 *
 * @example
 * const rt = await openLocalRuntime(loadConfig(process.env));
 */
export async function openLocalRuntime(config: Config): Promise<LocalRuntime> {
  requireModelCredentials(config);
  requireSandboxCredentials(config);
  const db = openDatabase(config.home);
  const store = new SqliteTaskStore(db, { redactor: redactorFromEnv(config.env) });
  const model = await createModelClient(config);
  const sandboxProvider = await createSandboxProvider(config);
  return {
    config,
    store,
    model,
    sandboxProvider,
    tools: [],
    logDir: join(config.home, 'logs'),
    async close() {
      db.close();
    },
  };
}
