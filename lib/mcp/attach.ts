/**
 * Attaches MCP to a runtime in one call: servers from the config file, the presets and the builder's registry,
 * connected in parallel; the builder tools; and a note for the model about servers that could not start (a
 * broken server never stops a task). The approval policy is the composition root's (lib/assembly), not MCP's.
 */
import type { RunTaskOptions } from '../agent/types.js';
import type { Config } from '../config/index.js';
import type { SandboxProvider } from '../sandbox/types.js';
import type { Tool } from '../tools/types.js';
import { createDeployedServerSpawner, createMcpBuilderTools, type McpServerRuntime } from './builder/index.js';
import { McpHub, type McpHubOptions, type McpServerStatus } from './hub.js';
import type { Redactor } from '../secrets/index.js';
import { resolveMcpServers, type ResolveMcpServersOptions } from './servers.js';
import { describePresets, E2B_GATEWAY_SERVER } from './presets.js';
import { toErrorInfo } from '../errors/index.js';
import type { E2BSdk } from '../sandbox/e2b/index.js';

export interface AttachedMcp {
  hub: McpHub;
  /** MCP tools of the selected servers (all when `servers` is absent) plus the builder tools. */
  toolsFor(servers?: string[]): Tool[];
  status(): McpServerStatus[];
  /** One paragraph for the model about servers that are not available, or undefined when all are. */
  unavailableNote(): string | undefined;
  /** What runTask needs for a task that selects `servers` (all attached servers when absent). */
  taskOptions(servers?: string[]): Pick<RunTaskOptions, 'tools' | 'instructions' | 'startInfo'>;
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
    /** The run's redactor: OAuth token values are registered with it. */
    redactor?: Redactor;
  },
): Promise<AttachedMcp> {
  const spawner = deps.runtime ? createDeployedServerSpawner(deps.sandboxProvider, deps.runtime) : undefined;
  const resolved = resolveMcpServers(config, { ...(deps.runtime ? { deployedRuntime: deps.runtime } : {}), ...deps.resolve });
  const gateway = await openE2BGateway(config, deps.e2bSdk);
  if (gateway?.ok) resolved.servers[E2B_GATEWAY_SERVER] = { transport: 'http', url: gateway.ok.url, headers: gateway.ok.headers, source: 'e2b-gateway' };
  if (gateway?.error) resolved.disabled[E2B_GATEWAY_SERVER] = gateway.error;
  const hub = new McpHub({
    ...resolved,
    env: config.env,
    ...(spawner ? { wrapSpawn: spawner.wrapSpawn } : {}),
    ...(deps.oauth ? { oauth: deps.oauth } : {}),
    ...(deps.redactor ? { redactor: deps.redactor } : {}),
  });
  await hub.start();
  const builder = deps.runtime ? createMcpBuilderTools({ hub, home: config.home, runtime: deps.runtime }) : [];
  const attached: AttachedMcp = {
    hub,
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
      return {
        tools: attached.toolsFor(servers),
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
