/**
 * The MCP hub: one MCP client per configured server, connected in parallel, with every server tool exposed
 * to the agent as a `Tool` named `mcp__<server>__<tool>`.
 *
 * Failure isolation: a server that cannot start is recorded as `failed` and the others work on. A call whose
 * server crashed or dropped the connection reconnects once and retries; after that it throws `mcp_error`,
 * which the agent loop turns into an error result for the model.
 *
 * Where servers run: user-configured stdio servers run on the host, like Claude Code runs them, with only the
 * environment they declare (plus PATH/HOME/LANG basics). Specs marked `sandboxed` (every server the builder
 * deploys) run in a sandbox: spawned here through `Sandbox.wrapSpawn` (bubblewrap), or over `Sandbox.openStdio`
 * where the sandbox is a remote VM (E2B); see channel-transport.ts.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { ErrorCode, McpError, type CallToolResult, type Tool as McpWireTool } from '@modelcontextprotocol/sdk/types.js';
import { DeepAgentError, toErrorInfo } from '../errors/index.js';
import { Redactor } from '../secrets/index.js';
import type { SpawnSpec } from '../sandbox/types.js';
import type { Tool, ToolAnnotations, ToolOutput, ToolResultContent } from '../tools/types.js';
import type { McpServerSpec, StdioServerSpec } from './config.js';
import { stdioTransport, type SandboxedStdio, type SandboxedTransport, type WrappedCommand } from './channel-transport.js';
import { ToolNameAllocator } from './names.js';
import { isLoginRequired, loginCommand, StoredOAuthProvider, type InteractiveAuthorizer, type OAuthRecords } from './oauth/index.js';

export interface McpHubOptions {
  servers?: Record<string, McpServerSpec>;
  /** Servers left out before connecting (a missing token, an unset variable), shown by `status()`. */
  disabled?: Record<string, string>;
  /** Per-call timeout. @default 60_000 */
  callTimeoutMs?: number;
  /** Timeout of connecting and listing tools. @default 30_000 */
  connectTimeoutMs?: number;
  /**
   * Basics a stdio server may inherit from the agent's environment besides what it declares.
   * @default PATH, HOME, LANG, LC_ALL, TMPDIR, TERM, USER, LOGNAME, SHELL taken from `env`
   */
  baseEnv?: Record<string, string>;
  /** The agent's environment, read only for the `baseEnv` basics. */
  env?: Record<string, string | undefined>;
  /**
   * Turns a sandboxed stdio spec into the command line that runs it inside the sandbox, or into a
   * `SandboxedStdio` (from `sandboxedStdio(sandbox, spec)`, which also covers sandboxes without `wrapSpawn`).
   */
  wrapSpawn?: (spec: SpawnSpec, server: string) => Promise<WrappedCommand | SandboxedStdio> | WrappedCommand | SandboxedStdio;
  /** Redacts secrets in error reasons; header and env values of the specs that look secret are added. */
  redactor?: Redactor;
  clientInfo?: { name: string; version: string };
  /**
   * OAuth for HTTP servers that carry no `Authorization` header (or an `oauth` entry): tokens from `records`,
   * refreshed before expiry and on 401. Without `authorizer` a flow that needs a person marks the server
   * `needs_login`; with it (a CLI run) a tool call's step-up opens the browser.
   */
  oauth?: { records: OAuthRecords; authorizer?: InteractiveAuthorizer };
}

export type McpServerState = 'connecting' | 'connected' | 'failed' | 'disabled' | 'needs_login';

export interface McpServerStatus {
  name: string;
  state: McpServerState;
  /** Why it failed, is disabled or needs a login. */
  reason?: string;
  /** For `needs_login`: the command that logs in. */
  login?: string;
  transport?: 'stdio' | 'http' | 'sse';
  source?: string;
  toolCount: number;
  tools: string[];
}

/** A hub tool: a `Tool` that also says which server and wire tool it stands for. */
export interface McpTool extends Tool {
  server: string;
  mcpName: string;
}

interface ServerEntry {
  name: string;
  spec?: McpServerSpec;
  state: McpServerState;
  reason?: string;
  client?: Client;
  /** set when the connection closed under us; the next call reconnects */
  dropped: boolean;
  tools: McpWireTool[];
  /** the transport actually used (`http` may have fallen back to `sse`) */
  transport?: 'stdio' | 'http' | 'sse';
  stderrTail: string;
  connecting?: Promise<void>;
  /** a per-server sandbox wrapper (a server deployed during a task runs in that task's sandbox) */
  wrapSpawn?: McpHubOptions['wrapSpawn'];
  /** OAuth state of an HTTP server that may log in */
  oauth?: StoredOAuthProvider;
}

const BASE_ENV_NAMES = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'TERM', 'USER', 'LOGNAME', 'SHELL'];
const SECRET_NAME = /TOKEN|KEY|SECRET|PASSWORD|PASS|AUTH|CREDENTIAL|COOKIE/i;

/**
 * Connects to many MCP servers and exposes their tools.
 *
 * @example
 * const hub = new McpHub({ servers: { everything: { transport: 'stdio', command: 'npx', args: ['mcp-server-everything'], env: {} } } });
 * await hub.start();
 * const tools = hub.tools(); // [{ name: 'mcp__everything__echo', ... }, ...]
 * await hub.close();
 */
export class McpHub {
  private entries = new Map<string, ServerEntry>();
  private names = new ToolNameAllocator();
  private readonly callTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly baseEnv: Record<string, string>;
  private readonly redactor: Redactor;
  private closed = false;

  constructor(private readonly options: McpHubOptions = {}) {
    this.callTimeoutMs = options.callTimeoutMs ?? 60_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
    this.redactor = options.redactor ?? new Redactor();
    const env = options.env ?? {};
    this.baseEnv =
      options.baseEnv ?? Object.fromEntries(BASE_ENV_NAMES.filter((k) => env[k] !== undefined).map((k) => [k, env[k]!]));
    for (const [name, reason] of Object.entries(options.disabled ?? {})) {
      this.entries.set(name, { name, state: 'disabled', reason, dropped: false, tools: [], stderrTail: '' });
    }
    for (const [name, spec] of Object.entries(options.servers ?? {})) this.register(name, spec);
  }

  /** Connects every registered server in parallel. Never throws: failures land in `status()`. */
  async start(): Promise<McpServerStatus[]> {
    await Promise.all([...this.entries.values()].filter((e) => e.spec && e.state !== 'connected').map((e) => this.connect(e)));
    return this.status();
  }

  /**
   * Adds (or replaces) a server while the hub runs and connects it; its tools appear in `tools()` at once.
   * Resolves with its status; a failure does not throw.
   *
   * @example
   * await hub.addServer('weather', { transport: 'stdio', command: 'node', args: ['server.ts'], env: {}, sandboxed: true });
   */
  async addServer(name: string, spec: McpServerSpec, options: { wrapSpawn?: McpHubOptions['wrapSpawn'] } = {}): Promise<McpServerStatus> {
    const old = this.entries.get(name);
    if (old?.client) await this.disconnect(old);
    this.register(name, spec);
    if (options.wrapSpawn) this.entries.get(name)!.wrapSpawn = options.wrapSpawn;
    await this.connect(this.entries.get(name)!);
    return this.statusOf(this.entries.get(name)!);
  }

  /** Per-server state: connected, failed (reason), or disabled (reason). */
  status(): McpServerStatus[] {
    return [...this.entries.values()].map((e) => this.statusOf(e));
  }

  /**
   * Every tool of every connected server, optionally only of the named servers (per-task selection).
   * Throws `invalid_input` for a server name the hub does not know.
   *
   * @example
   * const tools = hub.tools({ servers: ['github'] });
   */
  tools(selection: { servers?: string[] } = {}): McpTool[] {
    const wanted = selection.servers;
    if (wanted) {
      const unknown = wanted.filter((s) => !this.entries.has(s));
      if (unknown.length) {
        throw new DeepAgentError('invalid_input', `unknown MCP server ${unknown.map((s) => `"${s}"`).join(', ')}; known: ${[...this.entries.keys()].join(', ') || 'none'}`);
      }
    }
    const out: McpTool[] = [];
    for (const e of this.entries.values()) {
      if (wanted && !wanted.includes(e.name)) continue;
      if (e.state !== 'connected') continue;
      for (const t of e.tools) out.push(this.toTool(e.name, t));
    }
    return out;
  }

  /**
   * Calls one tool of one server directly (the hub tools call this).
   *
   * @example
   * const out = await hub.callTool('everything', 'echo', { message: 'hi' });
   */
  async callTool(server: string, tool: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<ToolOutput> {
    const e = this.entries.get(server);
    if (!e?.spec) throw new DeepAgentError('mcp_error', `MCP server "${server}" is not configured`);
    let reconnected = false;
    let steppedUp = false;
    if (e.state !== 'connected' || e.dropped || !e.client) {
      await this.reconnect(e);
      reconnected = true;
    }
    if (e.oauth?.expiresSoon()) await this.refreshLogin(e);
    for (;;) {
      try {
        if (e.oauth) e.oauth.interactive = this.options.oauth?.authorizer !== undefined;
        const result = (await e.client!.callTool({ name: tool, arguments: args }, undefined, {
          timeout: this.callTimeoutMs,
          ...(signal ? { signal } : {}),
        })) as CallToolResult;
        return toToolOutput(result);
      } catch (err) {
        if (signal?.aborted) throw new DeepAgentError('cancelled', `call to ${server}/${tool} was cancelled`);
        if (isLoginRequired(err)) throw await this.markNeedsLogin(e, err);
        if (err instanceof UnauthorizedError && e.oauth && !steppedUp) {
          // Step-up (insufficient_scope) in a CLI run: the browser was opened; finish once and call again.
          steppedUp = true;
          await this.finishAuthorization(e);
          continue;
        }
        if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) {
          throw new DeepAgentError('mcp_error', `${server}/${tool} timed out after ${Math.round(this.callTimeoutMs / 1000)} s`);
        }
        if (isConnectionError(err) && !reconnected) {
          reconnected = true;
          await this.reconnect(e);
          continue;
        }
        const why = isConnectionError(err) ? `the connection to "${server}" was lost again after a reconnect` : this.redact(toErrorInfo(err).message);
        throw new DeepAgentError('mcp_error', `${server}/${tool} failed: ${why}`);
      } finally {
        if (e.oauth) e.oauth.interactive = false;
      }
    }
  }

  /** Closes every client and kills every stdio child. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.entries.values()].map((e) => this.disconnect(e)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private register(name: string, spec: McpServerSpec): void {
    if (spec.transport === 'stdio') {
      for (const [k, v] of Object.entries(spec.env)) if (SECRET_NAME.test(k)) this.redactor.add(v);
    } else {
      for (const [k, v] of Object.entries(spec.headers)) {
        if (SECRET_NAME.test(k)) {
          this.redactor.add(v);
          this.redactor.add(v.replace(/^(Bearer|Basic|token)\s+/i, ''));
        }
      }
    }
    const oauth =
      spec.transport !== 'stdio' && this.options.oauth && (spec.oauth || !Object.keys(spec.headers).some((h) => h.toLowerCase() === 'authorization'))
        ? new StoredOAuthProvider({ server: name, serverUrl: spec.url, records: this.options.oauth.records, settings: spec.oauth ?? {}, redactor: this.redactor, ...(this.options.oauth.authorizer ? { authorizer: this.options.oauth.authorizer } : {}) })
        : undefined;
    // Connecting never opens a browser: only a tool call's step-up may (and only where an authorizer exists).
    if (oauth) oauth.interactive = false;
    this.entries.set(name, { name, spec, state: 'connecting', dropped: false, tools: [], stderrTail: '', ...(oauth ? { oauth } : {}) });
  }

  private statusOf(e: ServerEntry): McpServerStatus {
    return {
      name: e.name,
      state: e.state,
      ...(e.reason ? { reason: e.reason } : {}),
      ...(e.state === 'needs_login' ? { login: loginCommand(e.name) } : {}),
      ...(e.transport ?? e.spec?.transport ? { transport: e.transport ?? e.spec!.transport } : {}),
      ...(e.spec?.source ? { source: e.spec.source } : {}),
      toolCount: e.tools.length,
      tools: e.tools.map((t) => t.name),
    };
  }

  private redact(s: string): string {
    return this.redactor.redactString(s);
  }

  private async reconnect(e: ServerEntry): Promise<void> {
    await this.disconnect(e);
    await this.connect(e);
    if (e.state !== 'connected') throw new DeepAgentError('mcp_error', `MCP server "${e.name}" is unavailable: ${e.reason}`);
  }

  private connect(e: ServerEntry): Promise<void> {
    if (e.connecting) return e.connecting;
    e.connecting = this.doConnect(e).finally(() => {
      e.connecting = undefined;
    });
    return e.connecting;
  }

  private async doConnect(e: ServerEntry): Promise<void> {
    if (this.closed) throw new DeepAgentError('mcp_error', 'the MCP hub is closed');
    const spec = e.spec!;
    e.state = 'connecting';
    e.reason = undefined;
    e.dropped = false;
    e.stderrTail = '';
    try {
      if (spec.transport === 'stdio') {
        e.client = await this.openClient(e, await this.stdioTransport(e, spec));
        e.transport = 'stdio';
      } else if (spec.transport === 'sse') {
        e.client = await this.openClient(e, this.sseTransport(spec.url, spec.headers, e.oauth));
        e.transport = 'sse';
      } else {
        try {
          e.client = await this.openClient(
            e,
            new StreamableHTTPClientTransport(new URL(spec.url), { requestInit: { headers: spec.headers }, ...(e.oauth ? { authProvider: e.oauth } : {}) }),
          );
          e.transport = 'http';
        } catch (streamableError) {
          // A server that wants a login wants it over SSE too: no fallback then.
          if (isLoginRequired(streamableError) || streamableError instanceof UnauthorizedError) throw streamableError;
          try {
            e.client = await this.openClient(e, this.sseTransport(spec.url, spec.headers, e.oauth));
            e.transport = 'sse';
          } catch {
            throw streamableError;
          }
        }
      }
      e.tools = await this.listAllTools(e.client);
      e.state = 'connected';
    } catch (err) {
      await this.disconnect(e);
      if (isLoginRequired(err)) {
        e.state = 'needs_login';
        e.reason = this.redact(err.message);
        return;
      }
      e.state = 'failed';
      const tail = e.stderrTail.trim().split('\n').slice(-3).join(' | ');
      e.reason = this.redact(`${describeConnectError(err, spec)}${tail ? ` (stderr: ${tail.slice(-400)})` : ''}`);
    }
  }

  /** Renews an access token that is about to expire (the SDK itself only refreshes after a 401). */
  private async refreshLogin(e: ServerEntry): Promise<void> {
    try {
      const result = await auth(e.oauth!, { serverUrl: e.spec!.transport === 'stdio' ? '' : e.spec!.url });
      if (result !== 'AUTHORIZED') throw new DeepAgentError('mcp_error', `the token of "${e.name}" could not be refreshed`);
    } catch (err) {
      if (isLoginRequired(err)) throw await this.markNeedsLogin(e, err);
      // Anything else (the authorization server is down): try the call with the token we have; a 401 retries.
    }
  }

  /** Exchanges the code of a step-up the browser just approved; the next request carries the new token. */
  private async finishAuthorization(e: ServerEntry): Promise<void> {
    try {
      const code = await e.oauth!.takeAuthorizationCode();
      const transport = e.client?.transport as StreamableHTTPClientTransport | SSEClientTransport | undefined;
      if (transport?.finishAuth) await transport.finishAuth(code);
      else await auth(e.oauth!, { serverUrl: (e.spec as { url: string }).url, authorizationCode: code });
    } catch (err) {
      if (isLoginRequired(err)) throw await this.markNeedsLogin(e, err);
      throw new DeepAgentError('mcp_error', `${e.name}: the login for more scope failed: ${this.redact(toErrorInfo(err).message)}`);
    }
  }

  /** The server is left out until someone logs in; the error says how. */
  private async markNeedsLogin(e: ServerEntry, err: DeepAgentError): Promise<DeepAgentError> {
    e.state = 'needs_login';
    e.reason = this.redact(err.message);
    e.tools = [];
    await this.disconnect(e);
    return new DeepAgentError('mcp_error', e.reason, { needsLogin: true, server: e.name, command: loginCommand(e.name) });
  }

  private sseTransport(url: string, headers: Record<string, string>, authProvider?: StoredOAuthProvider): SSEClientTransport {
    return new SSEClientTransport(new URL(url), {
      ...(authProvider ? { authProvider } : {}),
      requestInit: { headers },
      eventSourceInit: {
        fetch: (input, init) => fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers).entries()), ...headers } }),
      },
    });
  }

  private async stdioTransport(e: ServerEntry, spec: StdioServerSpec): Promise<SandboxedTransport> {
    // The SDK merges getDefaultEnvironment() (HOME, LOGNAME, PATH, SHELL, TERM, USER) into whatever env we
    // give; we pass our basics and the declared variables only, never the agent's own environment.
    let how: SandboxedStdio = {
      kind: 'command',
      line: { command: spec.command, args: spec.args, env: { ...this.baseEnv, ...spec.env }, ...(spec.cwd ? { cwd: spec.cwd } : {}) },
    };
    if (spec.sandboxed) {
      const wrapSpawn = e.wrapSpawn ?? this.options.wrapSpawn;
      if (!wrapSpawn) throw new DeepAgentError('sandbox_unavailable', 'this server must run inside a sandbox, and no sandbox is available');
      const wrapped = await wrapSpawn({ command: spec.command, args: spec.args, env: spec.env, ...(spec.cwd ? { cwd: spec.cwd } : {}), network: spec.network ?? false }, e.name);
      how = 'kind' in wrapped ? wrapped : { kind: 'command', line: wrapped };
    }
    return stdioTransport(how, {
      onStderr: (chunk) => {
        e.stderrTail = (e.stderrTail + chunk).slice(-2000);
      },
    });
  }

  private async openClient(e: ServerEntry, transport: Transport): Promise<Client> {
    const client = new Client(this.options.clientInfo ?? { name: 'deep-agent', version: '0.1.0' }, {
      listChanged: {
        tools: {
          onChanged: (error, tools) => {
            if (!error && tools) e.tools = tools;
          },
        },
      },
    });
    client.onclose = () => {
      if (e.client === client) e.dropped = true;
    };
    // We declare neither elicitation nor sampling; a server that asks anyway gets a clear JSON-RPC error at
    // once (no person is asked mid-task, no model call is lent out), never a request left hanging.
    client.fallbackRequestHandler = async (request) => {
      throw new McpError(ErrorCode.MethodNotFound, refusalOf(request.method));
    };
    try {
      await client.connect(transport, { timeout: this.connectTimeoutMs });
    } catch (err) {
      await client.close().catch(() => {});
      throw err;
    }
    return client;
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

  private async disconnect(e: ServerEntry): Promise<void> {
    const client = e.client;
    e.client = undefined;
    if (client) await client.close().catch(() => {});
  }

  private toTool(server: string, t: McpWireTool): McpTool {
    const name = this.names.allocate(server, t.name);
    const annotations = pickAnnotations(t.annotations);
    return {
      name,
      server,
      mcpName: t.name,
      description: `${t.description?.trim() || t.title || t.name} (MCP server "${server}")`,
      inputSchema: { ...(t.inputSchema as Record<string, unknown>), type: 'object' },
      ...(annotations ? { annotations } : {}),
      execute: (input, ctx) => this.callTool(server, t.name, (input ?? {}) as Record<string, unknown>, ctx.signal),
    };
  }
}

/** Why a server's request to the client is refused. */
export function refusalOf(method: string): string {
  if (method === 'elicitation/create') return 'deep-agent does not answer elicitation requests: no person is asked for input during a task';
  if (method === 'sampling/createMessage') return 'deep-agent does not answer sampling requests: servers may not use the agent\'s model';
  return `deep-agent does not handle ${method} requests`;
}

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
  if (err instanceof McpError) return err.code === ErrorCode.ConnectionClosed;
  return err instanceof Error && !(err instanceof DeepAgentError && err.code === 'invalid_input');
}

function describeConnectError(err: unknown, spec: McpServerSpec): string {
  const e = err as NodeJS.ErrnoException;
  if (spec.transport === 'stdio' && e?.code === 'ENOENT') return `command not found: ${spec.command}`;
  if (spec.transport === 'stdio' && e?.code === 'EACCES') return `command is not executable: ${spec.command}`;
  if (err instanceof McpError && err.code === ErrorCode.ConnectionClosed) return 'the server exited before it finished starting';
  if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) return 'the server did not answer the MCP handshake in time';
  const msg = toErrorInfo(err).message.split('\n')[0]!;
  return spec.transport === 'stdio' ? msg : `${spec.url}: ${msg}`;
}

/** Maps an MCP tool result to the agent's ToolOutput: text, images and structured content pass through. */
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
