/**
 * The composition root: turns a validated `Config` into what a run needs (model client, sandbox provider,
 * attached MCP servers with their tools, the approval policy, instructions). Every caller goes through it:
 * `run`, `chat`, `examples`, `serve`, `createAgent()` and the agent Lambda; each adds only what is its own (a
 * store, a journal, a terminal prompt, the connection manager's tools).
 */
import { requireModelCredentials, requireSandboxCredentials, type Config } from '../config/index.js';
import { createModelClient, type ModelClient } from '../model/index.js';
import type { AttachedMcp, McpHubOptions } from '../mcp/index.js';
import type { SandboxProvider } from '../sandbox/index.js';
import { redactorFromEnv, type Redactor } from '../secrets/index.js';
import type { Tool } from '../tools/index.js';
import { approvalPolicyFor, type ApprovalPolicy, type RunTaskOptions } from '../agent/index.js';

/** What `runTask` takes from the assembly for one task. */
export type AssembledTaskOptions = Pick<RunTaskOptions, 'tools' | 'latestTools' | 'approvalPolicy' | 'instructions' | 'startInfo' | 'resources'>;

/** What a caller may bring instead of what the configuration would build. */
export interface AssemblyOverrides {
  /** @default the client `config.model` asks for (its credentials are then required) */
  model?: ModelClient;
  /** @default the provider `config.sandbox.provider` asks for (its credentials are then required) */
  sandboxProvider?: SandboxProvider;
  /**
   * Attach the MCP server builder's tools and the servers it deployed under `DEEP_AGENT_HOME`. They run with
   * this installation's Node and node_modules mounted read-only into the sandbox, so they need a sandbox
   * provider the assembly built itself; on AWS Lambda nothing can be mounted and nothing deployed persists.
   * @default true unless `sandboxProvider` is given
   */
  mcpBuilder?: boolean;
  /** Tools added to every task, after the MCP tools. */
  tools?: Tool[];
  /** @default the policy of `config.approval` (DEEP_AGENT_APPROVAL, DEEP_AGENT_APPROVE_TOOLS) */
  approvalPolicy?: ApprovalPolicy;
  /** Added to the system prompt of every task, before the note on unavailable MCP servers. */
  instructions?: string;
  /** OAuth records for HTTP MCP servers that log in (and, in a CLI run, a browser for step-up). */
  mcpOAuth?: McpHubOptions['oauth'];
  /**
   * The run's one redactor: MCP registers every secret of its servers with it (secret headers and env, every
   * `${VAR}` value), and the caller's store must write through the same instance.
   * @default one that knows the configuration's secret variables
   */
  redactor?: Redactor;
}

/** Everything a run needs, assembled once; `close()` releases the MCP servers. */
export interface AssembledAgent {
  readonly config: Config;
  readonly model: ModelClient;
  readonly sandboxProvider: SandboxProvider;
  readonly mcp: AttachedMcp;
  /** The redactor every store of this agent must write through (it learns the MCP servers' secrets). */
  readonly redactor: Redactor;
  /** The one approval policy of this assembly; undefined when no call needs approval. */
  readonly approvalPolicy?: ApprovalPolicy;
  /** What `runTask` needs for a task that selects MCP `servers` (every attached server when absent). */
  taskOptions(servers?: string[]): AssembledTaskOptions;
  close(): Promise<void>;
}

/**
 * The sandbox provider and the MCP servers of the configuration, attached: the part of `assembleAgent` that
 * `deep-agent mcp list|tools` needs too (no model, so no model key).
 *
 * @example
 * const { mcp } = await assembleMcp(config);
 * console.log(mcp.status());
 * await mcp.close();
 */
export async function assembleMcp(
  config: Config,
  overrides: Pick<AssemblyOverrides, 'sandboxProvider' | 'mcpBuilder' | 'mcpOAuth' | 'redactor'> = {},
): Promise<{ sandboxProvider: SandboxProvider; mcp: AttachedMcp }> {
  const { attachMcp, mcpServerRuntime } = await import('../mcp/index.js');
  const runtime = (overrides.mcpBuilder ?? !overrides.sandboxProvider) ? mcpServerRuntime() : undefined;
  const sandboxProvider =
    overrides.sandboxProvider ??
    (await (await import('../sandbox/index.js')).createSandboxProvider(config, runtime ? { readOnlyMounts: runtime.mounts } : {}));
  const mcp = await attachMcp(config, {
    sandboxProvider,
    ...(runtime ? { runtime } : {}),
    ...(overrides.mcpOAuth ? { oauth: overrides.mcpOAuth } : {}),
    ...(overrides.redactor ? { redactor: overrides.redactor } : {}),
  });
  return { sandboxProvider, mcp };
}

/**
 * Checks credentials first (one clear line when one is missing), then builds the model client and the
 * sandbox provider and attaches MCP. MCP and the sandbox providers are loaded on demand, which keeps the agent
 * Lambda's cold start short and keeps the E2B SDK out of local runs.
 *
 * @example
 * await using agent = await assembleAgent(config);
 * await runTask({ taskId, store, journal, model: agent.model, sandboxProvider: agent.sandboxProvider, ...agent.taskOptions() });
 */
export async function assembleAgent(config: Config, overrides: AssemblyOverrides = {}): Promise<AssembledAgent & AsyncDisposable> {
  if (!overrides.model) requireModelCredentials(config);
  if (!overrides.sandboxProvider) requireSandboxCredentials(config);
  const model = overrides.model ?? (await createModelClient(config));
  const redactor = overrides.redactor ?? redactorFromEnv(config.env);
  const { sandboxProvider, mcp } = await assembleMcp(config, { ...overrides, redactor });
  const approvalPolicy = overrides.approvalPolicy ?? approvalPolicyFor(config.approval);
  const extraTools = overrides.tools ?? [];

  const assembled: AssembledAgent & AsyncDisposable = {
    config,
    model,
    sandboxProvider,
    mcp,
    redactor,
    ...(approvalPolicy ? { approvalPolicy } : {}),
    taskOptions(servers) {
      const fromMcp = mcp.taskOptions(servers);
      const instructions = [overrides.instructions, fromMcp.instructions].filter(Boolean).join('\n\n');
      return {
        tools: [...(fromMcp.tools ?? []), ...extraTools],
        ...(fromMcp.latestTools ? { latestTools: fromMcp.latestTools } : {}),
        ...(approvalPolicy ? { approvalPolicy } : {}),
        ...(instructions ? { instructions } : {}),
        ...(fromMcp.startInfo ? { startInfo: fromMcp.startInfo } : {}),
        ...(fromMcp.resources ? { resources: fromMcp.resources } : {}),
      };
    },
    close: () => mcp.close(),
    [Symbol.asyncDispose]: () => mcp.close(),
  };
  return assembled;
}
