/**
 * The MCP hub: one MCP client per configured server, connected in parallel, with every server tool exposed
 * to the agent as a `Tool` named `mcp__<server>__<tool>`. Each server is one `McpServerConnection`
 * (connection.ts, shared with the connection manager); the hub decides how it is reached and where it runs.
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
// The HTTP transports load when a server connects over HTTP: a run with no remote server never loads them.
import type { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { DeepAgentError, toErrorInfo } from '../errors/index.js';
import { Redactor } from '../secrets/index.js';
import type { SpawnSpec } from '../sandbox/index.js';
import type { ToolOutput } from '../tools/index.js';
import type { McpServerSpec, StdioServerSpec } from './config.js';
import { stdioTransport, type SandboxedStdio, type SandboxedTransport, type WrappedCommand } from './channel-transport.js';
import { describeConnectError, McpServerConnection, type McpConnectionState, type McpTool, type McpTransportCandidate, type McpTransportKind } from './connection.js';
import { mcpErrorCode, McpErrorCode } from './error-codes.js';
import { ToolNameAllocator } from './names.js';
// The provider's file, not the oauth index: the login flows there load the MCP client, which a run loads late.
import { isLoginRequired, loginCommand, StoredOAuthProvider, type InteractiveAuthorizer } from './oauth/provider.js';
import type { OAuthRecords } from './oauth/store.js';

export interface McpHubOptions {
  servers?: Record<string, McpServerSpec>;
  /** Servers left out before connecting (a missing token, an unset variable), shown by `status()`. */
  disabled?: Record<string, string>;
  /** Per-call timeout. @default 60_000 */
  callTimeoutMs?: number;
  /** Timeout of connecting and listing tools. @default 30_000 */
  connectTimeoutMs?: number;
  /** Largest message read from a stdio server; a larger result is an error naming it. @default MCP_MAX_MESSAGE_BYTES (64 MB) */
  maxMessageBytes?: number;
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
  /**
   * The run's redactor (the one its task store writes through): header and env values of the specs that look
   * secret, and `secrets`, are added to it, so neither an error nor a stored echo shows them.
   */
  redactor?: Redactor;
  /** Values that are secret whatever their name (what a `.mcp.json` `${VAR}` expanded). */
  secrets?: string[];
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

interface ServerEntry {
  name: string;
  spec?: McpServerSpec;
  /** Why a server was left out before connecting (`disabled`). */
  disabledReason?: string;
  connection?: McpServerConnection;
  /** a per-server sandbox wrapper (a server deployed during a task runs in that task's sandbox) */
  wrapSpawn?: McpHubOptions['wrapSpawn'];
  /** OAuth state of an HTTP server that may log in */
  oauth?: StoredOAuthProvider;
  /** Why the server waits for a person to log in (set by a connect or a call that needed one). */
  needsLogin?: string;
}

/** A server's state as `status()` shows it, from its connection's. */
const SERVER_STATE: Record<McpConnectionState, McpServerState> = { idle: 'connecting', connecting: 'connecting', connected: 'connected', failed: 'failed', closed: 'failed' };

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
    for (const v of options.secrets ?? []) this.redactor.add(v);
    const env = options.env ?? {};
    this.baseEnv =
      options.baseEnv ?? Object.fromEntries(BASE_ENV_NAMES.filter((k) => env[k] !== undefined).map((k) => [k, env[k]!]));
    for (const [name, reason] of Object.entries(options.disabled ?? {})) this.entries.set(name, { name, disabledReason: reason });
    for (const [name, spec] of Object.entries(options.servers ?? {})) this.register(name, spec);
  }

  /** Connects every registered server in parallel. Never throws: failures land in `status()`. */
  async start(): Promise<McpServerStatus[]> {
    await Promise.all([...this.entries.values()].filter((e) => e.connection && e.connection.state !== 'connected').map((e) => e.connection!.connect()));
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
    if (this.closed) throw new DeepAgentError('mcp_error', 'the MCP hub is closed');
    await this.entries.get(name)?.connection?.close();
    const e = this.register(name, spec);
    if (options.wrapSpawn) e.wrapSpawn = options.wrapSpawn;
    await e.connection!.connect();
    return this.statusOf(e);
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
      if (e.connection?.state !== 'connected' || e.needsLogin) continue;
      // Routed by name: a server replaced later (redeployed) still answers the tools a running task holds.
      out.push(...e.connection.agentTools(this.names, { call: (tool, args, signal) => this.callTool(e.name, tool, args, signal) }));
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
    const connection = e?.connection;
    if (!e || !connection) throw new DeepAgentError('mcp_error', `MCP server "${server}" is not configured`);
    const oauth = e.oauth;
    if (!oauth) return connection.callTool(tool, args, signal);
    if (oauth.expiresSoon()) await this.refreshLogin(e, oauth);
    for (let steppedUp = false; ; steppedUp = true) {
      // Only here may a browser open (a step-up on insufficient_scope), and only where an authorizer exists.
      oauth.interactive = this.options.oauth?.authorizer !== undefined;
      try {
        return await connection.callTool(tool, args, signal);
      } catch (err) {
        oauth.interactive = false;
        if (isLoginRequired(err)) throw this.markNeedsLogin(e, err);
        if (!isUnauthorized(err)) throw err;
        if (steppedUp) throw new DeepAgentError('mcp_error', `${server}/${tool} failed: the server still refuses after a new authorization`);
        await this.finishAuthorization(e, oauth);
      } finally {
        oauth.interactive = false;
      }
    }
  }

  /** Renews an access token that is about to expire (the SDK itself refreshes only after a 401). */
  private async refreshLogin(e: ServerEntry, oauth: StoredOAuthProvider): Promise<void> {
    const { auth } = await import('@modelcontextprotocol/sdk/client/auth.js');
    try {
      await auth(oauth, { serverUrl: oauth.serverUrl });
    } catch (err) {
      if (isLoginRequired(err)) throw this.markNeedsLogin(e, err);
      // Anything else (the authorization server is down): call with the token we have; a 401 retries.
    }
  }

  /** Exchanges the code of a step-up the browser just approved; the next request carries the new token. */
  private async finishAuthorization(e: ServerEntry, oauth: StoredOAuthProvider): Promise<void> {
    try {
      const code = await oauth.takeAuthorizationCode();
      const { auth } = await import('@modelcontextprotocol/sdk/client/auth.js');
      await auth(oauth, { serverUrl: oauth.serverUrl, authorizationCode: code });
    } catch (err) {
      if (isLoginRequired(err)) throw this.markNeedsLogin(e, err);
      throw new DeepAgentError('mcp_error', `${e.name}: the login for more scope failed: ${this.redactor.redactString(toErrorInfo(err).message)}`);
    }
  }

  /** The server is left out until someone logs in; the error (for the model) says how. */
  private markNeedsLogin(e: ServerEntry, err: DeepAgentError): DeepAgentError {
    e.needsLogin = this.redactor.redactString(err.message);
    return new DeepAgentError('mcp_error', e.needsLogin, { needsLogin: true, server: e.name, command: loginCommand(e.name) });
  }

  /** Closes every client and kills every stdio child. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.entries.values()].map((e) => e.connection?.close()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private register(name: string, spec: McpServerSpec): ServerEntry {
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
    const e: ServerEntry = { name, spec };
    const records = this.options.oauth?.records;
    if (spec.transport !== 'stdio' && records && (spec.oauth || !Object.keys(spec.headers).some((h) => h.toLowerCase() === 'authorization'))) {
      const authorizer = this.options.oauth?.authorizer;
      e.oauth = new StoredOAuthProvider({ server: name, serverUrl: spec.url, records, settings: spec.oauth ?? {}, redactor: this.redactor, ...(authorizer ? { authorizer } : {}) });
      e.oauth.interactive = false; // connecting never opens a browser
    }
    e.connection = new McpServerConnection({
      name,
      transports: (onStderr) => this.transportsOf(e, spec, onStderr),
      connectTimeoutMs: this.connectTimeoutMs,
      callTimeoutMs: this.callTimeoutMs,
      redactor: this.redactor,
      ...(this.options.clientInfo ? { clientInfo: this.options.clientInfo } : {}),
      ...(this.options.maxMessageBytes ? { maxMessageBytes: this.options.maxMessageBytes } : {}),
      describeConnectError: (err) => {
        if (!isLoginRequired(err)) return describeSpecError(err, spec);
        e.needsLogin = this.redactor.redactString(err.message);
        return e.needsLogin;
      },
      passThrough: (err) => isLoginRequired(err) || isUnauthorized(err),
    });
    this.entries.set(name, e);
    return e;
  }

  private statusOf(e: ServerEntry): McpServerStatus {
    const c = e.connection;
    const waiting = e.needsLogin !== undefined && c?.state !== 'closed';
    const state: McpServerState = waiting ? 'needs_login' : c ? SERVER_STATE[c.state] : 'disabled';
    const reason = e.disabledReason ?? (waiting ? e.needsLogin : c?.state === 'failed' ? c.reason : c?.state === 'closed' ? 'the MCP hub is closed' : undefined);
    const transport: McpTransportKind | undefined = c?.transportKind ?? e.spec?.transport;
    const tools = c?.state === 'connected' && !waiting ? c.tools : [];
    return {
      name: e.name,
      state,
      ...(reason ? { reason } : {}),
      ...(waiting ? { login: loginCommand(e.name) } : {}),
      ...(transport ? { transport } : {}),
      ...(e.spec?.source ? { source: e.spec.source } : {}),
      toolCount: tools.length,
      tools: tools.map((t) => t.name),
    };
  }

  /** How to reach a server: its stdio command (maybe in a sandbox), or its URL (streamable HTTP, then SSE). */
  private async transportsOf(e: ServerEntry, spec: McpServerSpec, onStderr: (chunk: string) => void): Promise<McpTransportCandidate[]> {
    if (this.closed) throw new DeepAgentError('mcp_error', 'the MCP hub is closed');
    e.needsLogin = undefined; // a fresh connect finds out again
    if (spec.transport === 'stdio') {
      const transport = await this.stdioTransport(e, spec, onStderr);
      return [{ kind: 'stdio', open: () => transport }];
    }
    const authProvider = e.oauth;
    const sse: McpTransportCandidate = { kind: 'sse', open: () => sseTransport(spec.url, spec.headers, authProvider) };
    if (spec.transport === 'sse') return [sse];
    const http: McpTransportCandidate = {
      kind: 'http',
      open: async () => {
        const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
        return new StreamableHTTPClientTransport(new URL(spec.url), { requestInit: { headers: spec.headers }, ...(authProvider ? { authProvider } : {}) });
      },
    };
    return [http, sse];
  }

  private async stdioTransport(e: ServerEntry, spec: StdioServerSpec, onStderr: (chunk: string) => void): Promise<SandboxedTransport> {
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
    return stdioTransport(how, { onStderr, ...(this.options.maxMessageBytes ? { maxMessageBytes: this.options.maxMessageBytes } : {}) });
  }
}

async function sseTransport(url: string, headers: Record<string, string>, authProvider?: StoredOAuthProvider): Promise<SSEClientTransport> {
  const { SSEClientTransport } = await import('@modelcontextprotocol/sdk/client/sse.js');
  return new SSEClientTransport(new URL(url), {
    ...(authProvider ? { authProvider } : {}),
    requestInit: { headers },
    eventSourceInit: {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers).entries()), ...headers } }),
    },
  });
}

/** The SDK's `UnauthorizedError` (an authorization was opened, or refused), known by name: its module loads late. */
function isUnauthorized(err: unknown): boolean {
  return err instanceof Error && err.constructor.name === 'UnauthorizedError';
}

function describeSpecError(err: unknown, spec: McpServerSpec): string {
  const e = err as NodeJS.ErrnoException;
  if (spec.transport === 'stdio' && e?.code === 'ENOENT') return `command not found: ${spec.command}`;
  if (spec.transport === 'stdio' && e?.code === 'EACCES') return `command is not executable: ${spec.command}`;
  const code = mcpErrorCode(err);
  const handshake = code === McpErrorCode.ConnectionClosed || code === McpErrorCode.RequestTimeout;
  return spec.transport === 'stdio' || handshake ? describeConnectError(err) : `${spec.url}: ${describeConnectError(err)}`;
}
