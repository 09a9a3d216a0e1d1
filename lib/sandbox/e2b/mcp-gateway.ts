/**
 * MCP through E2B's gateway: a sandbox created with `mcp: { ... }` (E2B's `mcp-gateway` template) runs the
 * chosen MCP servers behind one streamable-HTTP endpoint; the MCP hub connects to its URL with its token.
 */
import type { McpServer } from 'e2b';
import type { Config } from '../../config/index.js';
import { DeepAgentError, MissingConfigError } from '../../errors/index.js';
import { Redactor, redactorFromEnv } from '../../secrets/index.js';
import { type BackoffOptions, mapE2BError, withE2BBackoff } from './errors.js';
import { type KeepAliveOptions, SandboxKeepAlive } from './keep-alive.js';
import { E2B_PLAN_MAX_LIFETIME_SECONDS } from './provider.js';
import { type E2BSandboxInstance, type E2BSdk, loadE2BSdk } from './sdk.js';

/** A running E2B MCP gateway, in the shape of a streamable-HTTP MCP server entry (`{ url, headers }`). */
export interface E2BMcpGateway {
  sandboxId: string;
  url: string;
  /** `Authorization: Bearer <gateway token>`; a secret: never log it. */
  headers: Record<string, string>;
  /** The E2B server names the gateway runs, e.g. `githubOfficial`, `notion`. */
  servers: string[];
  /**
   * Extends the sandbox's timeout periodically while its task runs (as the task sandbox's keep-alive does),
   * never past the plan's lifetime cap; `pause` and `close` stop it.
   */
  keepAlive: SandboxKeepAlive;
  /** Pauses the gateway sandbox while a person decides (E2B keeps its processes; a connect resumes it). */
  pause(): Promise<void>;
  /** Kills the gateway sandbox. Idempotent. */
  close(): Promise<void>;
}

export interface E2BMcpGatewayOptions {
  /**
   * E2B MCP servers to run (E2B's catalogue: `githubOfficial`, `notion`, ...).
   * @default GitHub when GITHUB_TOKEN is set and Notion when NOTION_TOKEN is set
   */
  servers?: McpServer;
  /** Goes into the sandbox metadata. */
  taskId?: string;
  /** @default 600 s; callers running long tasks extend it with `setTimeout` or recreate it */
  timeoutSeconds?: number;
  sdk?: E2BSdk;
  backoff?: BackoffOptions;
  /** @default { intervalSeconds: 120, extendBySeconds: 600 }, as the task sandbox */
  keepAlive?: KeepAliveOptions;
}

/**
 * The gateway servers the configuration's tokens unlock: E2B's `githubOfficial` with GITHUB_TOKEN and
 * `notion` with NOTION_TOKEN.
 *
 * @example
 * const servers = gatewayServersFromConfig(config); // { githubOfficial: { githubPersonalAccessToken: '...' } }
 */
export function gatewayServersFromConfig(config: { mcp: Pick<Config['mcp'], 'githubToken' | 'notionToken'> }): McpServer {
  return {
    ...(config.mcp.githubToken ? { githubOfficial: { githubPersonalAccessToken: config.mcp.githubToken } } : {}),
    ...(config.mcp.notionToken ? { notion: { internalIntegrationToken: config.mcp.notionToken } } : {}),
  };
}

async function describe(
  instance: E2BSandboxInstance,
  servers: string[],
  redactor: Redactor,
  life: { startedAtMs: number; maxLifetimeSeconds: number; keepAlive?: KeepAliveOptions },
): Promise<E2BMcpGateway> {
  const token = await instance.getMcpToken();
  if (!token) {
    throw new DeepAgentError('mcp_error', `E2B sandbox ${instance.sandboxId} has no MCP gateway token (was it created with mcp servers?).`);
  }
  redactor.add(token);
  const keepAlive = new SandboxKeepAlive(instance, life.startedAtMs, life.maxLifetimeSeconds * 1000, {
    intervalSeconds: life.keepAlive?.intervalSeconds ?? 120,
    extendBySeconds: life.keepAlive?.extendBySeconds ?? 600,
  });
  keepAlive.start();
  let closed: Promise<void> | undefined;
  return {
    sandboxId: instance.sandboxId,
    url: instance.getMcpUrl(),
    headers: { Authorization: `Bearer ${token}` },
    servers,
    keepAlive,
    async pause() {
      keepAlive.stop();
      try {
        await instance.pause();
      } catch (e) {
        throw mapE2BError(e, { operation: 'pause', sandboxId: instance.sandboxId, redactor });
      }
    },
    close() {
      keepAlive.stop();
      closed ??= instance.kill().then(
        () => undefined,
        (e) => {
          const name = e instanceof Error ? e.name : '';
          if (name !== 'SandboxNotFoundError' && name !== 'NotFoundError') throw mapE2BError(e, { operation: 'close', sandboxId: instance.sandboxId, redactor });
        },
      );
      return closed;
    },
  };
}

/**
 * Starts an E2B MCP gateway sandbox and returns where the MCP hub connects (streamable HTTP).
 *
 * The gateway sandbox has internet access (its servers call GitHub and Notion); the agent's own commands run
 * in its task sandbox, not here.
 *
 * @example
 * const gateway = await createE2BMcpGateway(config, { taskId });
 * // hub: new StreamableHTTPClientTransport(new URL(gateway.url), { requestInit: { headers: gateway.headers } })
 * try { ... } finally { await gateway.close(); }
 */
export async function createE2BMcpGateway(config: Config, options: E2BMcpGatewayOptions = {}): Promise<E2BMcpGateway> {
  const { apiKey, redactor, sdk } = await gatewayAccess(config, options.sdk);
  const servers = options.servers ?? gatewayServersFromConfig(config);
  const names = Object.keys(servers);
  if (names.length === 0) {
    throw new MissingConfigError('GITHUB_TOKEN', "E2B's MCP gateway: it needs GITHUB_TOKEN or NOTION_TOKEN (or explicit servers)");
  }
  let instance: E2BSandboxInstance;
  try {
    instance = await withE2BBackoff(
      () =>
        sdk.Sandbox.create({
          apiKey,
          mcp: servers,
          timeoutMs: (options.timeoutSeconds ?? 600) * 1000,
          metadata: { purpose: 'mcp-gateway', ...(options.taskId ? { taskId: options.taskId } : {}) },
          allowInternetAccess: true,
        }),
      options.backoff,
    );
  } catch (e) {
    throw mapE2BError(e, { operation: 'create MCP gateway', redactor });
  }
  try {
    return await describe(instance, names, redactor, { startedAtMs: Date.now(), maxLifetimeSeconds: maxLifetimeOf(config), ...(options.keepAlive ? { keepAlive: options.keepAlive } : {}) });
  } catch (e) {
    await instance.kill().catch(() => false);
    throw mapE2BError(e, { operation: 'create MCP gateway', sandboxId: instance.sandboxId, redactor });
  }
}

/** The key (one line naming E2B_API_KEY when it is missing), a redactor that knows it, and the SDK. */
async function gatewayAccess(config: Config, sdk?: E2BSdk): Promise<{ apiKey: string; redactor: Redactor; sdk: E2BSdk }> {
  if (!config.sandbox.e2bApiKey) throw new MissingConfigError('E2B_API_KEY', "E2B's MCP gateway (GitHub and Notion servers in an E2B sandbox)");
  const redactor = redactorFromEnv(config.env);
  redactor.add(config.sandbox.e2bApiKey);
  return { apiKey: config.sandbox.e2bApiKey, redactor, sdk: sdk ?? (await loadE2BSdk()) };
}

/**
 * Reattaches to a gateway sandbox after a durable replay or a restart, instead of starting a second one.
 *
 * @example
 * const gateway = await connectE2BMcpGateway(config, savedSandboxId);
 */
export async function connectE2BMcpGateway(
  config: Config,
  sandboxId: string,
  options: Pick<E2BMcpGatewayOptions, 'sdk' | 'backoff' | 'timeoutSeconds' | 'keepAlive'> & { servers?: string[] } = {},
): Promise<E2BMcpGateway> {
  const { apiKey, redactor, sdk } = await gatewayAccess(config, options.sdk);
  let instance: E2BSandboxInstance;
  try {
    instance = await withE2BBackoff(
      () => sdk.Sandbox.connect(sandboxId, { apiKey, timeoutMs: (options.timeoutSeconds ?? 600) * 1000 }),
      options.backoff,
    );
    // The lifetime cap counts from the sandbox's start; without its info, from now (E2B enforces the cap anyway).
    const startedAtMs = await instance.getInfo().then((i) => i.startedAt.getTime(), () => Date.now());
    return await describe(instance, options.servers ?? [], redactor, { startedAtMs, maxLifetimeSeconds: maxLifetimeOf(config), ...(options.keepAlive ? { keepAlive: options.keepAlive } : {}) });
  } catch (e) {
    throw mapE2BError(e, { operation: 'connect MCP gateway', sandboxId, redactor });
  }
}

const maxLifetimeOf = (config: Config) => config.sandbox.e2bMaxLifetimeSeconds ?? E2B_PLAN_MAX_LIFETIME_SECONDS.hobby;
