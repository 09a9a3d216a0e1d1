/**
 * A test double of the slice of the `e2b` SDK the E2B provider uses, because E2B's cloud cannot be reached
 * here. It is not a mock of behaviour we could run for real: commands run as real local processes (bash, in an
 * empty network namespace while the sandbox's internet is off) and files live in a temporary directory, with
 * sandbox paths equal to host paths (give the provider `workdir: fake.workdir`). What it stands in for is E2B's control plane: create / connect / pause / kill,
 * timeouts and network settings are recorded, and failures can be programmed (rate limit, then success).
 * Errors are the real classes from the `e2b` package.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { CommandExitError, FileNotFoundError, SandboxError, SandboxNotFoundError, TimeoutError, type McpServer } from 'e2b';
import type {
  E2BCommandHandle,
  E2BCommandOutcome,
  E2BConnectOptions,
  E2BCreateOptions,
  E2BEntry,
  E2BRunOptions,
  E2BSandboxDetails,
  E2BSandboxInstance,
  E2BSandboxStatics,
  E2BSdk,
} from '../../lib/sandbox/e2b/index.js';
import type { ListedSandbox, SweeperSandboxApi } from '../../lib/aws/index.js';

export type FakeOp =
  | 'create'
  | 'connect'
  | 'pause'
  | 'kill'
  | 'setTimeout'
  | 'updateNetwork'
  | 'run'
  | 'sendStdin'
  | 'read'
  | 'write'
  | 'list'
  | 'getInfo'
  | 'makeDir'
  | 'listSandboxes';

export interface FakeCall {
  op: FakeOp | 'resume';
  sandboxId?: string;
  args?: unknown;
  at: number;
}

export interface FakeCommand {
  sandboxId: string;
  cmd: string;
  /** whether the sandbox had internet when the command started */
  network: boolean;
  /** started with `stdin: true` */
  stdin: boolean;
  pid: number;
}

export interface FakeSandboxState {
  id: string;
  state: 'running' | 'paused' | 'killed';
  template: string;
  startedAt: Date;
  endAt: Date;
  envs: Record<string, string>;
  metadata: Record<string, string>;
  allowInternetAccess: boolean;
  /** the egress allowlist last set with updateNetwork (empty: none) */
  allowOut?: string[];
  mcp?: McpServer;
  mcpToken?: string;
  processes: Set<ChildProcess>;
}

/** The fake `e2b` module: pass it as `deps.sdk`. */
export class FakeE2B implements E2BSdk {
  readonly calls: FakeCall[] = [];
  /** Where the gateway's MCP endpoint really is in a test (E2B's own URL cannot be reached here). */
  mcpGatewayUrl?: string;
  readonly commands: FakeCommand[] = [];
  readonly sandboxes = new Map<string, FakeSandboxState>();
  readonly Sandbox: E2BSandboxStatics & SweeperSandboxApi;
  private readonly failures = new Map<FakeOp, unknown[]>();
  private seq = 0;

  private constructor(readonly root: string) {
    this.Sandbox = {
      create: (opts) => this.create(opts),
      connect: (id, opts) => this.connect(id, opts),
      pause: async (id) => this.pauseById(id),
      kill: async (id) => this.killById(id),
      list: (opts) => this.listSandboxes(opts),
    };
  }

  /**
   * `Sandbox.list` as e2b 2.x has it: a paginator over running and paused sandboxes (killed or expired ones
   * are gone), filtered by metadata, `limit` per page.
   */
  listSandboxes(opts: { query?: { metadata?: Record<string, string> }; limit?: number } = {}): ReturnType<SweeperSandboxApi['list']> {
    const fake = this;
    const pageSize = opts.limit ?? 100;
    let offset = 0;
    let hasNext = true;
    return {
      get hasNext() {
        return hasNext;
      },
      async nextItems(): Promise<ListedSandbox[]> {
        fake.record('listSandboxes', undefined, { metadata: opts.query?.metadata, offset });
        const live = [...fake.sandboxes.values()].filter(
          (s) => s.state !== 'killed' && s.endAt.getTime() > Date.now() && Object.entries(opts.query?.metadata ?? {}).every(([k, v]) => s.metadata[k] === v),
        );
        const page = live.slice(offset, offset + pageSize);
        offset += pageSize;
        hasNext = offset < live.length;
        return page.map((s) => ({ sandboxId: s.id, metadata: { ...s.metadata }, startedAt: s.startedAt, state: s.state }));
      },
    };
  }

  /** Backdates a sandbox's start (the sweeper spares young sandboxes of unknown tasks). */
  age(id: string, seconds: number): void {
    const s = this.sandboxes.get(id);
    if (s) s.startedAt = new Date(s.startedAt.getTime() - seconds * 1000);
  }

  /** A fake with its own temporary root; call `cleanup()` after the test. */
  static async start(): Promise<FakeE2B> {
    return new FakeE2B(await mkdtemp(join(tmpdir(), 'fake-e2b-')));
  }

  /** The workspace path to give the provider (`options.workdir`). */
  get workdir(): string {
    return join(this.root, 'home/user/workspace');
  }

  /** The next calls of `op` throw these errors, in order (then the op works again). */
  failNext(op: FakeOp, ...errors: unknown[]): void {
    this.failures.set(op, [...(this.failures.get(op) ?? []), ...errors]);
  }

  callsOf(op: FakeCall['op']): FakeCall[] {
    return this.calls.filter((c) => c.op === op);
  }

  only(): FakeSandboxState {
    if (this.sandboxes.size !== 1) throw new Error(`expected one fake sandbox, found ${this.sandboxes.size}`);
    return [...this.sandboxes.values()][0]!;
  }

  /** E2B ended the sandbox on its own (timeout reached). */
  expire(id: string): void {
    const s = this.sandboxes.get(id);
    if (s) this.terminate(s);
  }

  async cleanup(): Promise<void> {
    for (const s of this.sandboxes.values()) this.terminate(s);
    await rm(this.root, { recursive: true, force: true });
  }

  private record(op: FakeCall['op'], sandboxId?: string, args?: unknown): void {
    this.calls.push({ op, sandboxId, args, at: Date.now() });
    const queue = op === 'resume' ? undefined : this.failures.get(op);
    if (queue && queue.length > 0) throw queue.shift();
  }

  private terminate(s: FakeSandboxState): void {
    s.state = 'killed';
    for (const p of s.processes) killGroup(p);
    s.processes.clear();
  }

  private lookup(id: string): FakeSandboxState {
    const s = this.sandboxes.get(id);
    if (!s || s.state === 'killed' || s.endAt.getTime() <= Date.now()) {
      if (s && s.state !== 'killed') this.terminate(s);
      throw new SandboxNotFoundError(`Sandbox ${id} not found`);
    }
    return s;
  }

  /** envd calls fail like E2B's do when the sandbox is gone or paused (HTTP 502 → TimeoutError). */
  private envd(id: string): FakeSandboxState {
    const s = this.sandboxes.get(id);
    if (!s || s.state !== 'running' || s.endAt.getTime() <= Date.now()) {
      throw new TimeoutError('502: The sandbox was not found: This error is likely due to sandbox timeout.');
    }
    return s;
  }

  private async create(opts: E2BCreateOptions): Promise<E2BSandboxInstance> {
    const { apiKey: _apiKey, ...shown } = opts;
    this.record('create', undefined, { ...shown, apiKeyGiven: Boolean(opts.apiKey) });
    const id = `fake-sbx-${++this.seq}`;
    const now = new Date();
    const state: FakeSandboxState = {
      id,
      state: 'running',
      template: opts.template ?? (opts.mcp ? 'mcp-gateway' : 'base'),
      startedAt: now,
      endAt: new Date(now.getTime() + (opts.timeoutMs ?? 300_000)),
      envs: opts.envs ?? {},
      metadata: opts.metadata ?? {},
      allowInternetAccess: opts.allowInternetAccess ?? true,
      ...(opts.mcp ? { mcp: opts.mcp, mcpToken: randomUUID() } : {}),
      processes: new Set(),
    };
    this.sandboxes.set(id, state);
    return this.instance(id);
  }

  private async connect(id: string, opts: E2BConnectOptions): Promise<E2BSandboxInstance> {
    this.record('connect', id, { timeoutMs: opts.timeoutMs, apiKeyGiven: Boolean(opts.apiKey) });
    const s = this.lookup(id);
    if (s.state === 'paused') {
      s.state = 'running';
      this.record('resume', id);
    }
    if (opts.timeoutMs !== undefined) {
      s.endAt = new Date(Math.max(s.endAt.getTime(), Date.now() + opts.timeoutMs));
    }
    return this.instance(id);
  }

  private pauseById(id: string): boolean {
    this.record('pause', id);
    const s = this.lookup(id);
    if (s.state === 'paused') return false;
    s.state = 'paused';
    return true;
  }

  private killById(id: string): boolean {
    this.record('kill', id);
    const s = this.sandboxes.get(id);
    if (!s || s.state === 'killed') return false;
    this.terminate(s);
    return true;
  }

  private instance(id: string): E2BSandboxInstance {
    const fake = this;
    return {
      sandboxId: id,
      commands: {
        async run(cmd: string, opts: E2BRunOptions): Promise<E2BCommandHandle> {
          fake.record('run', id, { cmd, cwd: opts.cwd, ...(opts.stdin ? { stdin: true } : {}) });
          return fake.startCommand(fake.envd(id), cmd, opts);
        },
        async sendStdin(pid: number, data: string): Promise<void> {
          fake.record('sendStdin', id, { pid, bytes: Buffer.byteLength(data) });
          const child = [...fake.envd(id).processes].find((p) => p.pid === pid);
          // E2B answers a pid it does not run (or one started without stdin) with an error, as here.
          if (!child?.stdin || !child.stdin.writable) throw new SandboxError(`process with pid ${pid} not found or its stdin is closed`);
          await new Promise<void>((resolve, reject) => child.stdin!.write(data, (e) => (e ? reject(new SandboxError(e.message)) : resolve())));
        },
      },
      files: {
        async read(path: string): Promise<Uint8Array> {
          fake.record('read', id, { path });
          fake.envd(id);
          try {
            return new Uint8Array(await readFile(path));
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new FileNotFoundError(`path '${path}' does not exist`);
            throw e;
          }
        },
        async write(path: string, data: string | ArrayBuffer): Promise<unknown> {
          fake.record('write', id, { path });
          fake.envd(id);
          await mkdir(dirname(path), { recursive: true });
          await writeFile(path, typeof data === 'string' ? data : new Uint8Array(data));
          return { name: path.split('/').pop(), path };
        },
        async list(path: string): Promise<E2BEntry[]> {
          fake.record('list', id, { path });
          fake.envd(id);
          const out: E2BEntry[] = [];
          for (const name of await readdir(path)) {
            const st = await lstat(join(path, name));
            out.push({ name, path: join(path, name), size: st.size, type: st.isDirectory() ? 'dir' : 'file' });
          }
          return out;
        },
        async makeDir(path: string): Promise<boolean> {
          fake.record('makeDir', id, { path });
          fake.envd(id);
          const existed = existsSync(path);
          await mkdir(path, { recursive: true });
          return !existed;
        },
      },
      async setTimeout(timeoutMs: number): Promise<void> {
        fake.record('setTimeout', id, { timeoutMs });
        fake.lookup(id).endAt = new Date(Date.now() + timeoutMs);
      },
      async updateNetwork(network: { allowInternetAccess?: boolean; allowOut?: string[]; denyOut?: string[] }): Promise<void> {
        fake.record('updateNetwork', id, network);
        // As E2B: omitted fields are cleared. The double cannot filter by host: an allowOut list is recorded and
        // counts as network on; the rules themselves are checked from the recorded calls.
        const sandbox = fake.lookup(id);
        sandbox.allowInternetAccess = network.allowInternetAccess ?? true;
        sandbox.allowOut = network.allowOut ?? [];
      },
      async kill(): Promise<boolean> {
        return fake.killById(id);
      },
      async pause(): Promise<boolean> {
        return fake.pauseById(id);
      },
      async getInfo(): Promise<E2BSandboxDetails> {
        fake.record('getInfo', id);
        const s = fake.lookup(id);
        return {
          sandboxId: id,
          templateId: s.template,
          startedAt: s.startedAt,
          endAt: s.endAt,
          state: s.state,
          cpuCount: 2,
          memoryMB: 512,
          allowInternetAccess: s.allowInternetAccess,
        };
      },
      getMcpUrl: () => fake.mcpGatewayUrl ?? `https://50005-${id}.e2b.app/mcp`,
      async getMcpToken(): Promise<string | undefined> {
        return fake.lookup(id).mcpToken;
      },
    };
  }

  private startCommand(s: FakeSandboxState, cmd: string, opts: E2BRunOptions): E2BCommandHandle {
    // Like E2B, no internet while allowInternetAccess is false: the command gets an empty network namespace.
    // (`unshare` execs, so the pid stays the shell's, as in E2B.) Applied at start, not to running commands.
    const argv = s.allowInternetAccess ? ['bash', '-c', cmd] : ['unshare', '-rn', 'bash', '-c', cmd];
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd ?? this.root,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(this.root, 'home/user'), ...s.envs, ...opts.envs },
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const pid = child.pid ?? -1;
    s.processes.add(child);
    this.commands.push({ sandboxId: s.id, cmd, network: s.allowInternetAccess, stdin: Boolean(opts.stdin), pid });
    child.stdin?.on('error', () => {});
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      void opts.onStdout?.(d);
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      void opts.onStderr?.(d);
    });
    let deadlineHit = false;
    const deadline =
      opts.timeoutMs && opts.timeoutMs > 0
        ? setTimeout(() => {
            deadlineHit = true;
            killGroup(child);
          }, opts.timeoutMs)
        : undefined;
    const done = new Promise<E2BCommandOutcome>((resolve, reject) => {
      child.on('close', (code, signal) => {
        clearTimeout(deadline);
        s.processes.delete(child);
        if (deadlineHit) return reject(new TimeoutError('[deadline_exceeded] context deadline exceeded'));
        if (signal) return reject(new CommandExitError({ exitCode: -1, stdout, stderr, error: `signal: ${signal}` }));
        if (code !== 0) return reject(new CommandExitError({ exitCode: code ?? -1, stdout, stderr, error: `exit status ${code}` }));
        resolve({ exitCode: 0, stdout, stderr });
      });
    });
    done.catch(() => undefined);
    return {
      pid,
      wait: () => done,
      kill: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return false;
        // E2B's kill sends SIGKILL to the command's process only.
        child.kill('SIGKILL');
        return true;
      },
    };
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
