/**
 * Attaches MCP to a runtime in one call: servers from the config file, the presets and the builder's registry,
 * connected in parallel; the builder tools; and a note for the model about servers that could not start (a
 * broken server never stops a task). The approval policy is the composition root's (lib/assembly), not MCP's.
 */
import type { RunTaskOptions, TaskResource } from '../agent/index.js';
import type { Config } from '../config/index.js';
import type { SandboxProvider } from '../sandbox/index.js';
import type { Tool } from '../tools/index.js';
import { createDeployedServerSpawner, createMcpBuilderTools, type McpServerRuntime } from './builder/index.js';
import { McpHub, type McpHubOptions, type McpServerStatus } from './hub.js';
import { resolveMcpServers, type ResolveMcpServersOptions } from './servers.js';
import { describePresets, E2B_GATEWAY_SERVER } from './presets.js';
import { E2BGatewayResource } from './gateway-resource.js';
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
  /**
   * What runTask needs for a task that selects `servers` (all attached servers when absent). A task that uses
   * E2B's MCP gateway (it selects `e2b` or a preset routed through it, or selects nothing) gets a gateway of its
   * own as a resource: created in the task's journal step, its tools offered from the first model turn.
   */
  taskOptions(servers?: string[]): Pick<RunTaskOptions, 'tools' | 'latestTools' | 'instructions' | 'startInfo' | 'resources'>;
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
  const gateway = planE2BGateway(config);
  if (gateway?.error) resolved.disabled[E2B_GATEWAY_SERVER] = gateway.error;
  const redactor = deps.redactor ?? redactorFromEnv(config.env);
  const gatewayServers = gateway?.servers;
  // The gateway's sandbox belongs to a task: nothing is created here, only when a task that uses it starts.
  const gatewayFor = (servers?: string[]): E2BGatewayResource | undefined =>
    gatewayServers && (!servers || servers.some((s) => s === E2B_GATEWAY_SERVER || gateway.routed.includes(s)))
      ? new E2BGatewayResource(config, { servers: gatewayServers, redactor, ...(deps.e2bSdk ? { sdk: deps.e2bSdk } : {}) })
      : undefined;
  const pendingGateway: McpServerStatus[] = gatewayServers
    ? [{ name: E2B_GATEWAY_SERVER, state: 'connecting', reason: "starts with each task that uses it (an E2B sandbox per task)", transport: 'http', source: 'e2b-gateway', toolCount: 0, tools: [] }]
    : [];
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
    status: () => [...hub.status(), ...pendingGateway],
    unavailableNote() {
      const down = hub.status().filter((s) => s.state === 'failed' || s.state === 'disabled' || s.state === 'needs_login');
      if (down.length === 0) return undefined;
      return `These MCP servers are not available in this task: ${down.map((s) => `${s.name} (${s.reason ?? s.state})`).join('; ')}. Work without them or say what is missing.`;
    },
    taskOptions(servers) {
      const note = attached.unavailableNote();
      const atStart = new Set(hub.status().map((s) => s.name));
      const own = gatewayFor(servers);
      const resources: TaskResource[] = own ? [own] : [];
      const listed = own ? attached.status() : hub.status();
      return {
        tools: attached.toolsFor(servers),
        // A server attached while the task runs (deploy_mcp_server) joins even a task that chose its servers;
        // the task's gateway joins once its step has started it, before the first model turn.
        latestTools: () => [
          ...attached.toolsFor(servers && [...servers, ...hub.status().map((s) => s.name).filter((name) => !atStart.has(name))]),
          ...(own?.tools() ?? []),
        ],
        ...(note ? { instructions: note } : {}),
        startInfo: { mcpServers: listed.map((s) => ({ name: s.name, state: s.state, ...(s.reason ? { reason: s.reason } : {}), ...(s.login ? { login: s.login } : {}) })) },
        ...(resources.length ? { resources } : {}),
      };
    },
    async close() {
      await hub.close();
      await spawner?.close();
    },
  };
  return attached;
}

/**
 * E2B's MCP gateway for the presets routed through it (`DEEP_AGENT_GITHUB_MCP=e2b`, `DEEP_AGENT_NOTION_MCP=e2b`):
 * one sandbox per task runs those servers behind one URL, attached as the single server `e2b`. Undefined when
 * no preset is routed; `error` when the gateway cannot start (no E2B key).
 */
function planE2BGateway(config: Config): { servers?: Record<string, unknown>; routed: string[]; error?: string } | undefined {
  const routed = describePresets(config).filter((p) => p.viaE2BGateway);
  if (routed.length === 0) return undefined;
  if (!config.sandbox.e2bApiKey) return { routed: [], error: "E2B_API_KEY is not set: E2B's MCP gateway (GitHub and Notion servers in an E2B sandbox) needs it" };
  const wanted = new Set<string>(routed.map((p) => (p.name === 'github' ? 'githubOfficial' : 'notion')));
  const servers = {
    ...(config.mcp.githubToken && wanted.has('githubOfficial') ? { githubOfficial: { githubPersonalAccessToken: config.mcp.githubToken } } : {}),
    ...(config.mcp.notionToken && wanted.has('notion') ? { notion: { internalIntegrationToken: config.mcp.notionToken } } : {}),
  };
  return { servers, routed: routed.map((p) => p.name) };
}
