/**
 * One MCP server connection, whoever holds it (the hub for configured, preset and deployed servers; the
 * connection manager for an account's installed connections): open a client over a transport the holder
 * makes, list every tool page by page, adapt the tools to agent `Tool`s with their annotations, and call them
 * with a timeout and one reconnect when the transport is gone.
 *
 * The holder decides where the server runs (a host process, a sandbox, a URL) by the transports it hands in;
 * this file owns the MCP protocol side only.
 */
// The client loads when a server connects: a run with no MCP server never loads it.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, Tool as McpWireTool } from '@modelcontextprotocol/sdk/types.js';
import { DeepAgentError, toErrorInfo } from '../errors/index.js';
import { Redactor } from '../secrets/index.js';
import type { Tool, ToolAnnotations, ToolOutput, ToolResultContent } from '../tools/index.js';
import type { ToolNameAllocator } from './names.js';
import { MCP_MAX_MESSAGE_BYTES, MESSAGE_TOO_LARGE } from './channel-transport.js';
import { mcpErrorCode, McpErrorCode } from './error-codes.js';

export type McpTransportKind = 'stdio' | 'http' | 'sse';

/** One way to reach the server; `open` makes a fresh transport for every (re)connect. */
export interface McpTransportCandidate {
  kind: McpTransportKind;
  open(): Transport | Promise<Transport>;
}

export interface McpServerConnectionOptions {
  /** The server's name, as messages and tool names show it. */
  name: string;
  /**
   * The transports to try, in order, on each (re)connect; the first one whose handshake completes is used
   * (streamable HTTP, then SSE for an old server). `onStderr` receives a stdio server's stderr, whose tail a
   * failure reason quotes.
   */
  transports(onStderr: (chunk: string) => void): McpTransportCandidate[] | Promise<McpTransportCandidate[]>;
  /** Timeout of the handshake and of each tool-list page. @default 30_000 */
  connectTimeoutMs?: number;
  /** Timeout of one tool call. @default 60_000 */
  callTimeoutMs?: number;
  /** Redacts failure reasons and error messages. @default a redactor that knows token shapes only */
  redactor?: Redactor;
  clientInfo?: { name: string; version: string };
  /** Words for an error of the first transport's connect (e.g. `command not found: x`). @default its first line */
  describeConnectError?(error: unknown): string;
  /** The stdio read limit, named when a result passes it. @default MCP_MAX_MESSAGE_BYTES (64 MB) */
  maxMessageBytes?: number;
  /**
   * Errors of a call the holder handles itself (the hub's OAuth: a login needed, a step-up to finish): thrown
   * unchanged, never retried as a lost connection. @default none
   */
  passThrough?(error: unknown): boolean;
}

export type McpConnectionState = 'idle' | 'connecting' | 'connected' | 'failed' | 'closed';

/** An adapted tool: a `Tool` that also says which server and wire tool it stands for. */
export interface McpTool extends Tool {
  server: string;
  mcpName: string;
}

/**
 * @example
 * const conn = new McpServerConnection({ name: 'everything', transports: () => [{ kind: 'stdio', open: () => new StdioClientTransport({ command: 'npx', args: ['-y', '@modelcontextprotocol/server-everything'] }) }] });
 * await conn.connect();                                  // never throws: see conn.state and conn.reason
 * const tools = conn.agentTools(new ToolNameAllocator()); // mcp__everything__echo, ... with annotations
 * await conn.close();
 */
export class McpServerConnection {
  state: McpConnectionState = 'idle';
  /** Why the last connect failed (redacted). */
  reason: string | undefined;
  /** The server's tools as it listed them (kept current by `notifications/tools/list_changed`). */
  tools: McpWireTool[] = [];
  /** The transport in use (`http` may have fallen back to `sse`). */
  transportKind: McpTransportKind | undefined;
  private client: Client | undefined;
  private transport: Transport | undefined;
  /** Set when the transport closed under us; the next call reconnects. */
  private dropped = false;
  /** set when the server sent a message past the read limit (the SDK then drops the connection) */
  private oversized = false;
  private connecting: Promise<void> | undefined;
  private stderrTail = '';
  private readonly redactor: Redactor;
  readonly connectTimeoutMs: number;
  readonly callTimeoutMs: number;

  constructor(private readonly options: McpServerConnectionOptions) {
    this.redactor = options.redactor ?? new Redactor();
    this.connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
    this.callTimeoutMs = options.callTimeoutMs ?? 60_000;
  }

  get name(): string {
    return this.options.name;
  }

  /** The server's process id where the transport knows one (a sandboxed stdio server: host or sandbox pid). */
  get pid(): number | undefined {
    return (this.transport as { pid?: number | null } | undefined)?.pid ?? undefined;
  }

  /** Opens the client and lists the tools; concurrent calls share one attempt. Never throws. */
  connect(): Promise<void> {
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** Closes the client and reconnects; throws `mcp_error` with the reason when the server stays unavailable. */
  async reconnect(): Promise<void> {
    await this.disconnect();
    await this.connect();
    if (this.state !== 'connected') throw new DeepAgentError('mcp_error', `MCP server "${this.name}" is unavailable: ${this.reason}`);
  }

  /**
   * Calls one tool: reconnects first when the connection is down, and once more when the transport drops
   * during the call. `mcp_error` for a timeout, a second loss or a protocol error; `cancelled` on abort.
   *
   * @example
   * const out = await conn.callTool('echo', { message: 'hi' });
   */
  async callTool(tool: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<ToolOutput> {
    if (this.state === 'closed') throw new DeepAgentError('mcp_error', `MCP server "${this.name}" is closed`);
    let reconnected = false;
    if (this.state !== 'connected' || this.dropped || !this.client) {
      await this.reconnect();
      reconnected = true;
    }
    for (;;) {
      try {
        const result = (await this.client!.callTool({ name: tool, arguments: args }, undefined, {
          timeout: this.callTimeoutMs,
          ...(signal ? { signal } : {}),
        })) as CallToolResult;
        return toToolOutput(result);
      } catch (err) {
        if (signal?.aborted) throw new DeepAgentError('cancelled', `call to ${this.name}/${tool} was cancelled`);
        if (this.options.passThrough?.(err)) throw err;
        if (mcpErrorCode(err) === McpErrorCode.RequestTimeout) {
          throw new DeepAgentError('mcp_error', `${this.name}/${tool} timed out after ${Math.round(this.callTimeoutMs / 1000)} s`);
        }
        if (this.oversized) {
          this.oversized = false;
          const mb = Math.round((this.options.maxMessageBytes ?? MCP_MAX_MESSAGE_BYTES) / 1024 / 1024);
          throw new DeepAgentError('mcp_error', `${this.name}/${tool} answered with more than ${mb} MB, the most one MCP message may carry here; ask for less (a page, a filter, a range)`);
        }
        if (isConnectionError(err) && !reconnected) {
          reconnected = true;
          await this.reconnect();
          continue;
        }
        const why = isConnectionError(err) ? `the connection to "${this.name}" was lost again after a reconnect` : this.redact(firstLine(err));
        throw new DeepAgentError('mcp_error', `${this.name}/${tool} failed: ${why}`);
      }
    }
  }

  /** One `ping` with a timeout; throws when the server does not answer (a health check). */
  async ping(timeoutMs: number): Promise<void> {
    if (this.state !== 'connected' || this.dropped || !this.client) throw new DeepAgentError('mcp_error', 'the server is not connected');
    await this.client.ping({ timeout: timeoutMs });
  }

  /**
   * The server's tools as agent tools named by `names` (`mcp__<server>__<tool>`), with their MCP annotations
   * (what `destructiveApprovalPolicy` reads). A tool calls `call` (default: this connection's `callTool`);
   * a holder that may replace the connection routes by name, so a tool list a task already holds keeps working.
   *
   * @example
   * const tools = conn.agentTools(names, { origin: `MCP connection "${record.name}"` });
   */
  agentTools(
    names: ToolNameAllocator,
    options: { origin?: string; call?: (tool: string, args: Record<string, unknown>, signal?: AbortSignal) => Promise<ToolOutput> } = {},
  ): McpTool[] {
    const origin = options.origin ?? `MCP server "${this.name}"`;
    const call = options.call ?? ((tool, args, signal) => this.callTool(tool, args, signal));
    return this.tools.map((t) => {
      const annotations = pickAnnotations(t.annotations);
      return {
        name: names.allocate(this.name, t.name),
        server: this.name,
        mcpName: t.name,
        description: `${t.description?.trim() || t.title || t.name} (${origin})`,
        inputSchema: { ...(t.inputSchema as Record<string, unknown>), type: 'object' },
        ...(annotations ? { annotations } : {}),
        execute: (input, ctx) => call(t.name, (input ?? {}) as Record<string, unknown>, ctx.signal),
      };
    });
  }

  /** Closes the client and its transport (a stdio child is killed); the connection cannot be used after. */
  async close(): Promise<void> {
    this.state = 'closed';
    await this.connecting?.catch(() => {});
    await this.disconnect();
    this.state = 'closed';
  }

  private async open(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    this.reason = undefined;
    this.dropped = false;
    this.stderrTail = '';
    try {
      const candidates = await this.options.transports((chunk) => {
        this.stderrTail = (this.stderrTail + chunk).slice(-2_000);
      });
      let firstError: unknown;
      for (const candidate of candidates) {
        try {
          await this.openClient(await candidate.open());
          this.transportKind = candidate.kind;
          firstError = undefined;
          break;
        } catch (err) {
          firstError ??= err;
        }
      }
      if (!this.client) throw firstError ?? new DeepAgentError('mcp_error', 'no transport to try');
      this.tools = await this.listAllTools(this.client);
      if ((this.state as McpConnectionState) === 'closed') return void (await this.disconnect());
      this.state = 'connected';
    } catch (err) {
      await this.disconnect();
      if ((this.state as McpConnectionState) === 'closed') return;
      this.state = 'failed';
      const tail = this.stderrTail.trim().split('\n').slice(-3).join(' | ');
      const described = this.options.describeConnectError?.(err) ?? describeConnectError(err);
      this.reason = this.redact(`${described}${tail ? ` (stderr: ${tail.slice(-400)})` : ''}`);
    }
  }

  private async openClient(transport: Transport): Promise<void> {
    const [{ Client }, { McpError }] = await Promise.all([import('@modelcontextprotocol/sdk/client/index.js'), import('@modelcontextprotocol/sdk/types.js')]);
    const client = new Client(this.options.clientInfo ?? { name: 'deep-agent', version: '0.1.0' }, {
      listChanged: {
        tools: {
          onChanged: (error, tools) => {
            if (!error && tools && this.client === client) this.tools = tools;
          },
        },
      },
    });
    client.onclose = () => {
      if (this.client === client) this.dropped = true;
    };
    // We declare neither elicitation nor sampling; a server that asks anyway gets a clear JSON-RPC error at
    // once (no person is asked mid-task, no model call is lent out), never a request left hanging.
    client.fallbackRequestHandler = async (request) => {
      throw new McpError(McpErrorCode.MethodNotFound, refusalOf(request.method));
    };
    try {
      await client.connect(transport, { timeout: this.connectTimeoutMs });
      // The client owns `onerror` once connected; an overflow is remembered so the call can say what happened.
      const onerror = transport.onerror;
      transport.onerror = (err) => {
        if (MESSAGE_TOO_LARGE.test(err.message) && this.client === client) this.oversized = true;
        onerror?.(err);
      };
    } catch (err) {
      await client.close().catch(() => {});
      await transport.close().catch(() => {});
      throw err;
    }
    this.client = client;
    this.transport = transport;
  }

  private async listAllTools(client: Client): Promise<McpWireTool[]> {
    if (!client.getServerCapabilities()?.tools) return [];
    const tools: McpWireTool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : {}, { timeout: this.connectTimeoutMs });
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    return tools;
  }

  private async disconnect(): Promise<void> {
    const { client, transport } = this;
    this.client = undefined;
    this.transport = undefined;
    if (client) await client.close().catch(() => {});
    // The client closes its transport; a transport whose handshake never finished is closed here.
    if (transport) await transport.close().catch(() => {});
  }

  private redact(s: string): string {
    return this.redactor.redactString(s);
  }
}

/** Why a server's request to the client is refused. */
export function refusalOf(method: string): string {
  if (method === 'elicitation/create') return 'deep-agent does not answer elicitation requests: no person is asked for input during a task';
  if (method === 'sampling/createMessage') return "deep-agent does not answer sampling requests: servers may not use the agent's model";
  return `deep-agent does not handle ${method} requests`;
}

const firstLine = (err: unknown): string => toErrorInfo(err).message.split('\n')[0]!;

function pickAnnotations(a: McpWireTool['annotations']): ToolAnnotations | undefined {
  if (!a) return undefined;
  const out: ToolAnnotations = {};
  for (const k of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
    if (typeof a[k] === 'boolean') out[k] = a[k];
  }
  return Object.keys(out).length ? out : undefined;
}

/** True for errors that mean the transport is gone (crash, closed pipe, dropped HTTP session). */
function isConnectionError(err: unknown): boolean {
  const code = mcpErrorCode(err);
  if (code !== undefined) return code === McpErrorCode.ConnectionClosed;
  return err instanceof Error && !(err instanceof DeepAgentError && err.code === 'invalid_input');
}

/**
 * Words for a failed connect: the handshake's own failures named, else the error's first line.
 *
 * @example
 * describeConnectError(new McpError(ErrorCode.RequestTimeout, 'x')); // 'the server did not answer the MCP handshake in time'
 */
export function describeConnectError(err: unknown): string {
  const code = mcpErrorCode(err);
  if (code === McpErrorCode.ConnectionClosed) return 'the server exited before it finished starting';
  if (code === McpErrorCode.RequestTimeout) return 'the server did not answer the MCP handshake in time';
  return firstLine(err);
}

/**
 * Maps an MCP tool result to the agent's ToolOutput: text, images and structured content pass through.
 *
 * @example
 * toToolOutput({ content: [{ type: 'text', text: 'hi' }] }); // { content: [{ type: 'text', text: 'hi' }] }
 */
export function toToolOutput(result: CallToolResult): ToolOutput {
  const content: ToolResultContent[] = [];
  for (const c of result.content ?? []) {
    switch (c.type) {
      case 'text':
        content.push({ type: 'text', text: c.text });
        break;
      case 'image':
        content.push({ type: 'image', data: c.data, mimeType: c.mimeType });
        break;
      case 'audio':
        content.push({ type: 'text', text: `[audio ${c.mimeType}, ${Math.round((c.data.length * 3) / 4)} bytes]` });
        break;
      case 'resource_link':
        content.push({ type: 'text', text: `[resource link ${c.uri}${c.name ? ` (${c.name})` : ''}]` });
        break;
      case 'resource': {
        const r = c.resource as { uri: string; mimeType?: string; text?: string };
        content.push({ type: 'text', text: typeof r.text === 'string' ? r.text : `[binary resource ${r.uri}${r.mimeType ? ` ${r.mimeType}` : ''}]` });
        break;
      }
    }
  }
  const legacy = (result as { toolResult?: unknown }).toolResult;
  if (legacy !== undefined && content.length === 0) content.push({ type: 'text', text: JSON.stringify(legacy) });
  if (result.structuredContent !== undefined && content.length === 0) content.push({ type: 'text', text: JSON.stringify(result.structuredContent) });
  return {
    content,
    ...(result.isError ? { isError: true } : {}),
    ...(result.structuredContent !== undefined ? { structuredContent: result.structuredContent } : {}),
  };
}
