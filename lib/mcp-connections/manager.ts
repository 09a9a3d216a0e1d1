/**
 * The per-account MCP connection manager behind `/mcp-server-definitions` and `/mcp-connections`.
 *
 * Each connection runs its server in a sandbox of its own (bubblewrap through `wrapSpawn`, E2B over `openStdio`), with its
 * credentials decrypted only into that server process's environment. Records live in SQLite
 * (`mcp_connections`), credentials AES-256-GCM encrypted in `credentials`; neither a response, an error nor a
 * record carries a credential value.
 */
import { randomUUID } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { z } from 'zod';
import { DeepAgentError, toErrorInfo } from '../errors/index.js';
import type { CredentialStore } from '../local/index.js';
import {
  isLoginRequired,
  McpServerConnection,
  OAuthRecords,
  oauthRecordKey,
  sandboxedStdio,
  stdioTransport,
  StoredOAuthProvider,
  ToolNameAllocator,
  type HttpServerSpec,
  type McpTransportCandidate,
} from '../mcp/index.js';
import type { Sandbox, SandboxProvider } from '../sandbox/index.js';
import { Redactor } from '../secrets/index.js';
import type { AccountCredentials, McpConnectionBackend } from '../task/index.js';
import type { Tool } from '../tools/index.js';
import { credentialEnv, loadCatalog, remoteServerSpec, resolveStartCommand, type McpServerDefinition } from './catalog.js';
import { ConnectionRecords, type McpConnection } from './store.js';

export const InstallBodySchema = z
  .object({
    definitionId: z.string().min(1).max(40),
    /** The server name in tool names; unique per account. @default definitionId */
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'lowercase letters, digits, "-" and "_" (at most 40)').optional(),
    credentials: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export interface McpConnectionManagerOptions {
  db: DatabaseSync;
  credentials: CredentialStore;
  /**
   * Each connection gets a sandbox of its own from here; it must offer `wrapSpawn` (bubblewrap) or `openStdio`
   * (E2B). With E2B, `runtime` must name Node and node_modules as the template has them (or use `npx` definitions).
   */
  sandboxProvider: SandboxProvider;
  /** Node and node_modules as the sandbox sees them (`mcpServerRuntime()`), for `{node}` and `{nodeModules}`. */
  runtime: { node: string; nodeModules: string };
  /** @default the built-in definitions */
  catalog?: McpServerDefinition[];
  /** Health-check period; 0 disables the timer (tests call `checkHealth()`). @default 30_000 */
  healthIntervalMs?: number;
  /** Timeout of one health ping. @default 5_000 */
  healthTimeoutMs?: number;
  /** Timeout of starting a server and listing its tools. @default 30_000 */
  connectTimeoutMs?: number;
  /** Timeout of one tool call. @default 60_000 */
  callTimeoutMs?: number;
  /**
   * Deletes what a connection's sandbox left on the host (its workspace and HOME) when the connection is
   * removed; sandboxes that vanish with `close()` (E2B) need none. Restarts keep the files (a memory graph).
   */
  removeSandboxFiles?(sandboxTaskId: string): Promise<void>;
  /**
   * The run's redactor (the one the task store writes through): every connection's credentials are added to
   * it when the connection starts, so a server or a model that repeats one is stored as `[REDACTED]`.
   * @default a redactor of its own (errors and records of the manager only)
   */
  redactor?: Redactor;
  onError?(error: unknown): void;
}

interface LiveConnection {
  /** The connection's own sandbox; a remote (HTTP) connection has none. */
  sandbox?: Sandbox;
  connection: McpServerConnection;
  /** The account's OAuth state for a remote connection. */
  oauth?: StoredOAuthProvider;
}

/** What a person does to log in to a remote connection (serve and the AWS API both answer this route). */
export const connectionLoginHint = (id: string): string => `POST /mcp-connections/${id}/oauth/start`;

/**
 * @example
 * const manager = new McpConnectionManager({ db: storage.db, credentials: storage.credentials, sandboxProvider, runtime: mcpServerRuntime() });
 * await manager.start();                       // restarts connections that were running
 * await startLocalService({ ..., mcpConnections: manager });
 * const tools = manager.toolsFor('local');     // mcp__everything__echo, ...
 * await manager.close();
 */
export class McpConnectionManager implements McpConnectionBackend, AccountCredentials {
  private readonly records: ConnectionRecords;
  private readonly catalog: McpServerDefinition[];
  private readonly live = new Map<string, LiveConnection>();
  /** Connections whose one automatic restart was used up (cleared by a healthy check). */
  private readonly restartUsed = new Set<string>();
  private readonly redactor: Redactor;
  private timer: ReturnType<typeof setInterval> | undefined;
  private checking: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: McpConnectionManagerOptions) {
    this.records = new ConnectionRecords(options.db);
    this.catalog = options.catalog ?? loadCatalog();
    this.redactor = options.redactor ?? new Redactor();
  }

  /** Restarts every connection marked running (after a restart of `serve`) and starts the health timer. */
  async start(): Promise<void> {
    await Promise.all(this.records.withStatus('running').map((c) => this.restart(c)));
    const every = this.options.healthIntervalMs ?? 30_000;
    if (every > 0 && !this.timer) {
      this.timer = setInterval(() => void this.checkHealth().catch((e) => this.options.onError?.(e)), every);
      this.timer.unref?.();
    }
  }

  async listDefinitions(_accountId: string): Promise<McpServerDefinition[]> {
    return this.catalog;
  }

  /** Validates, stores the credentials encrypted, starts the server in its own sandbox, records the connection. */
  async install(accountId: string, body: unknown): Promise<McpConnection> {
    const parsed = InstallBodySchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new DeepAgentError('invalid_input', `${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    const { definitionId, credentials } = parsed.data;
    const definition = this.definition(definitionId);
    const env = credentialEnv(definition, credentials);
    const name = parsed.data.name ?? definition.id;
    if (this.records.byName(accountId, name)) {
      throw new DeepAgentError('conflict', `a connection named "${name}" already exists; remove it or give another "name"`);
    }
    const id = `mcpc_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
    const now = new Date().toISOString();
    if (Object.keys(credentials).length) this.options.credentials.put(accountId, id, credentials);
    const record: McpConnection = {
      id,
      accountId,
      definitionId,
      name,
      status: 'running',
      tools: [],
      credentialFields: Object.keys(credentials).sort(),
      createdAt: now,
      lastHealthAt: now,
    };
    try {
      const live = await this.launch(record, definition, env);
      record.tools = live.connection.tools.map((t) => t.name);
    } catch (e) {
      record.status = isLoginRequired(e) ? 'needs_login' : 'failed';
      record.lastError = isLoginRequired(e) ? this.loginReason(record.id) : this.describe(e);
    }
    this.records.insert(record);
    return record;
  }

  async list(accountId: string): Promise<McpConnection[]> {
    return this.records.list(accountId);
  }

  /** The credential field names of the account's connection `id` (task secrets name them); undefined for another account's id. */
  async credentialFields(accountId: string, id: string): Promise<readonly string[] | undefined> {
    return this.records.get(accountId, id)?.credentialFields;
  }

  /** The account's connection's stored credential, decrypted, for a task's masked secrets; undefined when there is none. */
  async credentialValues(accountId: string, id: string): Promise<Record<string, unknown> | undefined> {
    if (!this.records.get(accountId, id)) return undefined;
    return this.options.credentials.get<Record<string, unknown>>(accountId, id);
  }

  /**
   * Stops the server, kills its sandbox, deletes its workspace files, credentials and record. `not_found` for
   * another account's id.
   */
  async remove(accountId: string, id: string): Promise<void> {
    const record = this.records.get(accountId, id);
    if (!record) throw new DeepAgentError('not_found', `MCP connection ${id} does not exist`);
    await this.stopLive(id);
    await this.options.removeSandboxFiles?.(sandboxTaskId(id));
    this.options.credentials.delete(accountId, id);
    this.options.credentials.delete(accountId, oauthRecordKey(id)); // a remote connection's OAuth tokens
    this.records.delete(id);
    this.restartUsed.delete(id);
  }

  /**
   * One health round: pings each running connection (with a timeout) and marks a dead one failed; a failed
   * one is restarted once (in the following round), then left failed until a check finds it healthy.
   */
  checkHealth(): Promise<void> {
    this.checking ??= this.healthRound().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  /**
   * The tools of the account's running connections, named `mcp__<connection name>__<tool>`. Calling one
   * extends the connection sandbox's timeout where sandboxes expire (E2B); locally there is nothing to extend.
   *
   * @example
   * runTask({ ..., tools: [...baseTools, ...manager.toolsFor('local')] });
   */
  toolsFor(accountId: string): Tool[] {
    const names = new ToolNameAllocator();
    const out: Tool[] = [];
    for (const record of this.records.list(accountId)) {
      const live = this.live.get(record.id);
      if (record.status !== 'running' || !live) continue;
      // Annotations included: DEEP_AGENT_APPROVAL=destructive lets a read-only connection tool run unasked.
      out.push(
        ...live.connection.agentTools(names, {
          origin: `MCP connection "${record.name}"`,
          // Through the manager: the account check, the sandbox's lifetime extended, a restarted connection found.
          call: (tool, args, signal) => this.callTool(accountId, record.id, tool, args, signal),
        }),
      );
    }
    return out;
  }

  /** Calls a tool of one connection; `mcp_error` when it is not running. */
  async callTool(accountId: string, id: string, tool: string, args: Record<string, unknown>, signal?: AbortSignal) {
    const record = this.records.get(accountId, id);
    const live = this.live.get(id);
    if (!record || !live) throw new DeepAgentError('mcp_error', `MCP connection ${record?.name ?? id} is not running`);
    await extendSandbox(live.sandbox);
    if (!live.oauth) return live.connection.callTool(tool, args, signal);
    try {
      // The SDK refreshes only after a 401; a token about to expire is renewed first, without a person.
      if (live.oauth.expiresSoon()) {
        const { auth } = await import('@modelcontextprotocol/sdk/client/auth.js');
        await auth(live.oauth, { serverUrl: live.oauth.serverUrl }).catch((e: unknown) => {
          if (isLoginRequired(e)) throw e; // else the authorization server is down: try the token we have
        });
      }
      return await live.connection.callTool(tool, args, signal);
    } catch (e) {
      if (!isLoginRequired(e) && !isUnauthorized(e)) throw e;
      // A revoked refresh token or a login that ran out: the connection waits for a person, the task goes on.
      await this.stopLive(id);
      this.records.update(id, { status: 'needs_login', tools: record.tools, lastHealthAt: new Date().toISOString(), lastError: this.loginReason(id) });
      throw new DeepAgentError('mcp_error', `MCP connection ${record.name} ${this.loginReason(id)}`, { needsLogin: true, connection: id });
    }
  }

  /**
   * The HTTP server of the account's remote connection `id`, for the OAuth login routes; undefined for
   * another account's id, an unknown one, or a local (stdio) connection.
   *
   * @example
   * new HttpOAuthLogins({ store, resolve: (account, id) => manager.remoteServer(account, id) ?? mcpJsonServer(id) });
   */
  remoteServer(accountId: string, id: string): HttpServerSpec | undefined {
    const record = this.records.get(accountId, id);
    const definition = record && this.catalog.find((d) => d.id === record.definitionId);
    return definition ? remoteServerSpec(definition) : undefined;
  }

  /**
   * Connects a connection again (after a login stored its tokens); its record says how that went.
   *
   * @example
   * (await manager.reconnect('local', id))?.status; // 'running' once logged in
   */
  async reconnect(accountId: string, id: string): Promise<McpConnection | undefined> {
    const record = this.records.get(accountId, id);
    if (!record) return undefined;
    await this.restart(record);
    return this.records.get(accountId, id);
  }

  /**
   * The account's remote connections that wait for a login, as `task.started` lists servers, with the way
   * to log in (a task goes on without them).
   *
   * @example
   * manager.unavailable('local'); // [{ name: 'notion', state: 'needs_login', login: 'POST /mcp-connections/mcpc_…/oauth/start', ... }]
   */
  unavailable(accountId: string): { name: string; state: string; reason?: string; login?: string }[] {
    return this.records
      .list(accountId)
      .filter((r) => r.status === 'needs_login')
      .map((r) => ({ name: r.name, state: r.status, ...(r.lastError ? { reason: r.lastError } : {}), login: connectionLoginHint(r.id) }));
  }

  /** The pid of a connection's sandboxed server process: on this host (bubblewrap) or in the sandbox (E2B). */
  processId(accountId: string, id: string): number | undefined {
    if (!this.records.get(accountId, id)) return undefined;
    return this.live.get(id)?.connection.pid;
  }

  /** Closes every connection's client and sandbox; records keep their status so the next start restarts them. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.checking?.catch(() => {});
    await Promise.all([...this.live.keys()].map((id) => this.stopLive(id)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private definition(id: string): McpServerDefinition {
    const d = this.catalog.find((x) => x.id === id);
    if (!d) throw new DeepAgentError('invalid_input', `no MCP server definition "${id}"; known: ${this.catalog.map((x) => x.id).join(', ')}`);
    return d;
  }

  private async healthRound(): Promise<void> {
    const timeout = this.options.healthTimeoutMs ?? 5_000;
    const targets = [...this.records.withStatus('running'), ...this.records.withStatus('failed')];
    await Promise.all(
      targets.map(async (record) => {
        if (this.closed) return;
        const now = new Date().toISOString();
        if (record.status === 'running') {
          const live = this.live.get(record.id);
          try {
            if (!live) throw new DeepAgentError('mcp_error', 'the server is not running');
            await live.connection.ping(timeout);
            await extendSandbox(live.sandbox);
            this.restartUsed.delete(record.id);
            this.records.update(record.id, { status: 'running', tools: record.tools, lastHealthAt: now });
          } catch (e) {
            // Marked failed now, restarted by the next round: the failure stays visible for one interval.
            await this.stopLive(record.id);
            this.records.update(record.id, { status: 'failed', tools: record.tools, lastHealthAt: now, lastError: `health check failed: ${this.describe(e)}` });
          }
          return;
        }
        if (this.restartUsed.has(record.id)) return;
        this.restartUsed.add(record.id);
        await this.restart(record);
      }),
    );
  }

  /** Starts a stored connection again from its stored credentials; records the outcome. */
  private async restart(record: McpConnection): Promise<void> {
    const now = new Date().toISOString();
    try {
      await this.stopLive(record.id);
      const definition = this.definition(record.definitionId);
      const credentials = this.options.credentials.get<Record<string, unknown>>(record.accountId, record.id) ?? {};
      const live = await this.launch(record, definition, credentialEnv(definition, credentials));
      this.records.update(record.id, { status: 'running', tools: live.connection.tools.map((t) => t.name), lastHealthAt: now });
    } catch (e) {
      if (isLoginRequired(e)) this.records.update(record.id, { status: 'needs_login', tools: record.tools, lastHealthAt: now, lastError: this.loginReason(record.id) });
      else this.records.update(record.id, { status: 'failed', tools: record.tools, lastHealthAt: now, lastError: `restart failed: ${this.describe(e)}` });
    }
  }

  private loginReason(id: string): string {
    return `needs a login: ${connectionLoginHint(id)}`;
  }

  /** A remote connection: the account's OAuth tokens, no sandbox; a missing login throws `mcp_login_required`. */
  private async launchRemote(record: McpConnection, spec: HttpServerSpec): Promise<LiveConnection> {
    const oauth = new StoredOAuthProvider({
      server: record.id,
      serverUrl: spec.url,
      records: new OAuthRecords(this.options.credentials, record.accountId),
      settings: spec.oauth ?? {},
      redactor: this.redactor,
    });
    let loginError: unknown;
    const transports = (): McpTransportCandidate[] => {
      const sse: McpTransportCandidate = {
        kind: 'sse',
        open: async () => {
          const { SSEClientTransport } = await import('@modelcontextprotocol/sdk/client/sse.js');
          return new SSEClientTransport(new URL(spec.url), { authProvider: oauth });
        },
      };
      const http: McpTransportCandidate = {
        kind: 'http',
        open: async () => {
          const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
          return new StreamableHTTPClientTransport(new URL(spec.url), { authProvider: oauth });
        },
      };
      return spec.transport === 'sse' ? [sse] : [http, sse];
    };
    const connection = new McpServerConnection({
      name: record.name,
      transports,
      connectTimeoutMs: this.options.connectTimeoutMs ?? 30_000,
      callTimeoutMs: this.options.callTimeoutMs ?? 60_000,
      redactor: this.redactor,
      clientInfo: { name: 'deep-agent-connections', version: '0.1.0' },
      describeConnectError: (err) => {
        if (isLoginRequired(err)) loginError = err;
        return this.describe(err);
      },
      passThrough: (err) => isLoginRequired(err) || isUnauthorized(err),
    });
    await connection.connect();
    if (connection.state !== 'connected') {
      await connection.close();
      if (loginError) throw loginError;
      throw new DeepAgentError('mcp_error', connection.reason ?? 'the server did not answer');
    }
    const live = { connection, oauth };
    this.live.set(record.id, live);
    return live;
  }

  private async launch(record: McpConnection, definition: McpServerDefinition, secretEnv: Record<string, string>): Promise<LiveConnection> {
    if (this.closed) throw new DeepAgentError('unavailable', 'the MCP connection manager is closed');
    const remote = remoteServerSpec(definition);
    if (remote) return this.launchRemote(record, remote);
    for (const v of Object.values(secretEnv)) this.redactor.add(v);
    const sandbox = await this.options.sandboxProvider.create({
      taskId: sandboxTaskId(record.id),
      timeoutSeconds: definition.defaultTimeoutSeconds,
      metadata: { accountId: record.accountId, connectionId: record.id },
    });
    const start = resolveStartCommand(definition, { ...this.options.runtime, workspace: sandbox.workdir });
    // bubblewrap passes env through its own environment, E2B through the command's envs: never a command line.
    const spec = { ...start, env: { ...start.env, ...secretEnv }, network: definition.network };
    const connection = new McpServerConnection({
      name: record.name,
      transports: (onStderr) => [{ kind: 'stdio', open: () => stdioTransport(sandboxedStdio(sandbox, spec), { onStderr }) }],
      connectTimeoutMs: this.options.connectTimeoutMs ?? 30_000,
      callTimeoutMs: this.options.callTimeoutMs ?? 60_000,
      redactor: this.redactor,
      clientInfo: { name: 'deep-agent-connections', version: '0.1.0' },
    });
    await connection.connect();
    if (connection.state !== 'connected') {
      await connection.close();
      await sandbox.close().catch(() => {});
      throw new DeepAgentError('mcp_error', connection.reason ?? 'the server did not start');
    }
    const live = { sandbox, connection };
    this.live.set(record.id, live);
    return live;
  }

  private async stopLive(id: string): Promise<void> {
    const live = this.live.get(id);
    if (!live) return;
    this.live.delete(id);
    await live.connection.close();
    await live.sandbox?.close().catch((e) => this.options.onError?.(e));
  }

  private describe(e: unknown): string {
    return this.redactor.redactString(toErrorInfo(e).message.split('\n')[0]!.slice(0, 500));
  }
}

/** The task id a connection's sandbox is created with (locally it names `<home>/workspaces/<it>`). */
export const sandboxTaskId = (connectionId: string): string => `mcp-${connectionId}`;

/** The SDK's `UnauthorizedError` (a refused token the SDK could not renew), known by name: its module loads late. */
function isUnauthorized(err: unknown): boolean {
  return err instanceof Error && err.constructor.name === 'UnauthorizedError';
}

/** Pushes a cloud sandbox's expiry forward when it has a keep-alive (E2B); local sandboxes do not expire. */
async function extendSandbox(sandbox: Sandbox | undefined): Promise<void> {
  await sandbox?.extendLifetime?.().catch(() => {});
}

