/**
 * Attaches MCP to a runtime in one call: servers from the config file, the presets and the builder's registry,
 * connected in parallel; the builder tools; and a note for the model about servers that could not start (a
 * broken server never stops a task). The approval policy is the composition root's (lib/assembly), not MCP's.
 */
import type { RunTaskOptions } from '../agent/index.js';
import type { Config } from '../config/index.js';
import type { SandboxProvider } from '../sandbox/index.js';
import type { Tool } from '../tools/index.js';
import { createDeployedServerSpawner, createMcpBuilderTools, type McpServerRuntime } from './builder/index.js';
import { McpHub, type McpHubOptions, type McpServerStatus } from './hub.js';
import { resolveMcpServers, type ResolveMcpServersOptions } from './servers.js';
import { describePresets, E2B_GATEWAY_SERVER } from './presets.js';
import { toErrorInfo } from '../errors/index.js';
import { redactorFromEnv, type Redactor } from '../secrets/index.js';
import type { E2BSdk } from '../sandbox/e2b/index.js';

export interface AttachedMcp {
  hub: McpHub;
  /**
   * The redactor the hub registers every secret of its servers with (secret-looking headers and env, every
   * `${VAR}` value): give it to the run's task store so that what a server or the model repeats is redacted.
   */
  redactor: Redactor;
  /** MCP tools of the selected servers (all when `servers` is absent) plus the builder tools. */
  toolsFor(servers?: string[]): Tool[];
  status(): McpServerStatus[];
  /** One paragraph for the model about servers that are not available, or undefined when all are. */
  unavailableNote(): string | undefined;
  /** What runTask needs for a task that selects `servers` (all attached servers when absent). */
  taskOptions(servers?: string[]): Pick<RunTaskOptions, 'tools' | 'latestTools' | 'instructions' | 'startInfo'>;
  close(): Promise<void>;
}

/**
 * @example
 * const mcp = await attachMcp(config, { sandboxProvider, runtime });
 * runTask({ ..., ...mcp.taskOptions(record.mcpServers) });
 */
export async function attachMcp(
  config: Config,
  deps: {
    sandboxProvider: SandboxProvider;
    /**
     * Node and node_modules for built servers. Without it (AWS Lambda, where nothing of the installation can be
     * mounted and nothing deployed persists) neither the builder tools nor deployed servers are attached.
     */
    runtime?: McpServerRuntime;
    resolve?: ResolveMcpServersOptions;
    e2bSdk?: E2BSdk;
    /** OAuth records (and, in a CLI run, a browser authorizer) for HTTP servers that log in. */
    oauth?: McpHubOptions['oauth'];
    /** The run's redactor (the task store's); OAuth tokens are added to it. @default one that knows the configuration's keys */
    redactor?: Redactor;
  },
): Promise<AttachedMcp> {
  const spawner = deps.runtime ? createDeployedServerSpawner(deps.sandboxProvider, deps.runtime) : undefined;
  const resolved = resolveMcpServers(config, { ...(deps.runtime ? { deployedRuntime: deps.runtime } : {}), ...deps.resolve });
  const gateway = await openE2BGateway(config, deps.e2bSdk);
  if (gateway?.ok) resolved.servers[E2B_GATEWAY_SERVER] = { transport: 'http', url: gateway.ok.url, headers: gateway.ok.headers, source: 'e2b-gateway' };
  if (gateway?.error) resolved.disabled[E2B_GATEWAY_SERVER] = gateway.error;
  const redactor = deps.redactor ?? redactorFromEnv(config.env);
  const hub = new McpHub({ ...resolved, env: config.env, redactor, ...(spawner ? { wrapSpawn: spawner.wrapSpawn } : {}), ...(deps.oauth ? { oauth: deps.oauth } : {}) });
  await hub.start();
  const builder = deps.runtime ? createMcpBuilderTools({ hub, home: config.home, runtime: deps.runtime }) : [];
  const attached: AttachedMcp = {
    hub,
    redactor,
    toolsFor(servers) {
      const connected = new Set(hub.status().filter((s) => s.state === 'connected').map((s) => s.name));
      const wanted = servers?.filter((s) => connected.has(s));
      return [...hub.tools(wanted ? { servers: wanted } : {}), ...builder];
    },
    status: () => hub.status(),
    unavailableNote() {
      const down = hub.status().filter((s) => s.state === 'failed' || s.state === 'disabled' || s.state === 'needs_login');
      if (down.length === 0) return undefined;
      return `These MCP servers are not available in this task: ${down.map((s) => `${s.name} (${s.reason ?? s.state})`).join('; ')}. Work without them or say what is missing.`;
    },
    taskOptions(servers) {
      const note = attached.unavailableNote();
      const atStart = new Set(hub.status().map((s) => s.name));
      return {
        tools: attached.toolsFor(servers),
        // A server attached while the task runs (deploy_mcp_server) joins even a task that chose its servers.
        latestTools: () => attached.toolsFor(servers && [...servers, ...hub.status().map((s) => s.name).filter((name) => !atStart.has(name))]),
        ...(note ? { instructions: note } : {}),
        startInfo: { mcpServers: hub.status().map((s) => ({ name: s.name, state: s.state, ...(s.reason ? { reason: s.reason } : {}), ...(s.login ? { login: s.login } : {}) })) },
      };
    },
    async close() {
      await hub.close();
      await spawner?.close();
      await gateway?.ok?.close();
    },
  };
  return attached;
}

/**
 * E2B's MCP gateway for the presets routed through it (`DEEP_AGENT_GITHUB_MCP=e2b`, `DEEP_AGENT_NOTION_MCP=e2b`):
 * one sandbox runs those servers behind one URL, attached to the hub as the single server `e2b`.
 */
async function openE2BGateway(config: Config, sdk?: E2BSdk) {
  const routed = describePresets(config).filter((p) => p.viaE2BGateway);
  if (routed.length === 0) return undefined;
  const { createE2BMcpGateway, gatewayServersFromConfig } = await import('../sandbox/e2b/index.js');
  const all = gatewayServersFromConfig(config) as Record<string, unknown>;
  const wanted = new Set<string>(routed.map((p) => (p.name === 'github' ? 'githubOfficial' : 'notion')));
  const servers = Object.fromEntries(Object.entries(all).filter(([k]) => wanted.has(k)));
  try {
    return { ok: await createE2BMcpGateway(config, { servers: servers as never, ...(sdk ? { sdk } : {}) }) };
  } catch (e) {
    return { error: toErrorInfo(e).message };
  }
}
