/**
 * E2B's MCP gateway as something one task owns: its sandbox is created in the task's journal step
 * `mcp-gateway:create` (tagged with the task's id, so the sweeper finds it), reconnected on a replay, kept
 * alive while the task runs, paused while a person decides and killed at the task's end. The task's tools
 * from it come through a hub of its own (one server, `e2b`), whose connection opens once the sandbox is up:
 * a process that runs many tasks (`serve`) gives each its own gateway, and no task sees another's.
 */
import type { McpServer } from 'e2b';
import type { TaskResource } from '../agent/index.js';
import type { Config } from '../config/index.js';
import { toErrorInfo } from '../errors/index.js';
import type { E2BMcpGateway, E2BSdk } from '../sandbox/e2b/index.js';
import type { Redactor } from '../secrets/index.js';
import { McpHub, type McpServerStatus } from './hub.js';
import type { McpTool } from './connection.js';
import { E2B_GATEWAY_SERVER } from './presets.js';

/** The step and record name of the gateway resource. */
export const MCP_GATEWAY_RESOURCE = 'mcp-gateway';

export interface GatewayResourceOptions {
  /** The E2B servers to run (`githubOfficial`, `notion`). */
  servers: McpServer;
  redactor: Redactor;
  sdk?: E2BSdk;
  /** Handshake and tool-list timeout of the hub connection. @default the hub's */
  connectTimeoutMs?: number;
}

/**
 * @example
 * const gateway = new E2BGatewayResource(config, { servers: { githubOfficial: { ... } }, redactor });
 * await runTask({ ..., resources: [gateway], latestTools: () => gateway.tools() });
 */
export class E2BGatewayResource implements TaskResource {
  readonly name = MCP_GATEWAY_RESOURCE;
  private gateway: E2BMcpGateway | undefined;
  private hub: McpHub | undefined;
  private reason: string | undefined;

  constructor(
    private readonly config: Config,
    private readonly options: GatewayResourceOptions,
  ) {}

  private async e2b() {
    return import('../sandbox/e2b/index.js');
  }

  async create(task: { taskId: string }): Promise<string> {
    const { createE2BMcpGateway } = await this.e2b();
    this.gateway = await createE2BMcpGateway(this.config, { servers: this.options.servers, taskId: task.taskId, ...(this.options.sdk ? { sdk: this.options.sdk } : {}) });
    return this.gateway.sandboxId;
  }

  async open(id: string): Promise<void> {
    try {
      if (this.gateway?.sandboxId !== id) {
        const { connectE2BMcpGateway } = await this.e2b();
        this.gateway = await connectE2BMcpGateway(this.config, id, { servers: Object.keys(this.options.servers), ...(this.options.sdk ? { sdk: this.options.sdk } : {}) });
      }
      this.hub = new McpHub({
        servers: { [E2B_GATEWAY_SERVER]: { transport: 'http', url: this.gateway.url, headers: this.gateway.headers, source: 'e2b-gateway' } },
        redactor: this.options.redactor,
        ...(this.options.connectTimeoutMs ? { connectTimeoutMs: this.options.connectTimeoutMs } : {}),
      });
      const [status] = await this.hub.start();
      if (status?.state !== 'connected') this.reason = status?.reason ?? 'it did not connect';
    } catch (e) {
      this.reason = this.options.redactor.redactString(toErrorInfo(e).message);
    }
  }

  /** Its tools once it is connected; none before or when it failed. */
  tools(): McpTool[] {
    return this.hub?.tools() ?? [];
  }

  status(): McpServerStatus | undefined {
    return this.hub?.status()[0];
  }

  unavailableNote(): string | undefined {
    return this.reason ? `The MCP server ${E2B_GATEWAY_SERVER} (E2B's MCP gateway) is not available in this task: ${this.reason}.` : undefined;
  }

  async pause(): Promise<void> {
    await this.gateway?.pause();
  }

  async resume(): Promise<void> {
    // A paused gateway resumes on connect: the hub's next call reconnects (and E2B resumes it on that request).
    if (!this.gateway) return;
    const { connectE2BMcpGateway } = await this.e2b();
    const again = await connectE2BMcpGateway(this.config, this.gateway.sandboxId, { servers: this.gateway.servers, ...(this.options.sdk ? { sdk: this.options.sdk } : {}) });
    this.gateway.keepAlive.stop();
    this.gateway = again;
  }

  async release(options: { parked: boolean; id?: string }): Promise<void> {
    await this.hub?.close().catch(() => {});
    this.hub = undefined;
    const gateway = this.gateway;
    this.gateway = undefined;
    try {
      if (gateway && options.parked) return void (await gateway.pause());
      if (gateway) return void (await gateway.close());
      if (options.id && !options.parked) {
        const { connectE2BMcpGateway } = await this.e2b();
        await (await connectE2BMcpGateway(this.config, options.id, { ...(this.options.sdk ? { sdk: this.options.sdk } : {}) })).close();
      }
    } catch {
      // Gone already (expired, or killed by a cancel); the sweeper covers anything left.
    }
  }
}
