/** The sandbox port: where the agent's commands and file edits happen (bubblewrap locally, E2B in the cloud). */
import type { EnforcedLimits, MaskedCredentialSpec, NetworkRequest, TaskNetwork } from './shared/index.js';

export type SandboxProviderName = 'local' | 'unsafe-local' | 'e2b';

export interface RunOptions {
  /** Relative to the workspace; default the workspace root. */
  cwd?: string;
  /** default 120 s; the whole process tree is killed when it runs out */
  timeoutMs?: number;
  /** Start and return at once with a handle id; output goes to a log file in the workspace. */
  background?: boolean;
  /**
   * default false: no network at all. `true`: the network, bounded by the task's allowlist when it has one;
   * a list of hosts (`pkg.example.org`, `*.cdn.example.org`, `api.example.com:443`): only those.
   */
  network?: NetworkRequest;
  env?: Record<string, string>;
  signal?: AbortSignal;
  onStdout?(chunk: string): void;
  onStderr?(chunk: string): void;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  /** null when killed */
  exitCode: number | null;
  timedOut: boolean;
  /** true when stdout or stderr hit the output cap */
  truncated: boolean;
  durationMs: number;
  /** set for background commands */
  backgroundId?: string;
}

export interface FileEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
}

export interface SandboxInfo {
  id: string;
  provider: SandboxProviderName;
  workdir: string;
  resources: { cpus?: number; memoryMb?: number; diskMb?: number };
  /** each resource limit and how it is held here (`by: 'none'` where this host cannot) */
  limits?: EnforcedLimits;
  /** seconds until the sandbox expires, when it does */
  timeLeftSeconds?: number;
  network: 'off-by-default' | 'on';
}

/** A long-lived process inside the sandbox with piped stdio (used for stdio MCP servers). */
export interface SpawnSpec {
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  network?: NetworkRequest;
}

/**
 * The piped stdio of one long-lived process inside a sandbox (`Sandbox.openStdio`): what a stdio MCP transport
 * needs when the process cannot be spawned on this host (a remote VM such as E2B). Output chunks arrive in
 * order; chunks and the exit that came before a listener was registered are delivered to it when it registers.
 */
export interface StdioChannel {
  /** The process id inside the sandbox, when the provider knows it. */
  readonly pid?: number;
  /** Writes to the process's stdin; writes are delivered in the order they were made. */
  write(data: string): Promise<void>;
  onData(cb: (chunk: string) => void): void;
  onStderr(cb: (chunk: string) => void): void;
  /** Called once when the process ends (null when it was killed or the code is unknown). */
  onExit(cb: (code: number | null) => void): void;
  /** Kills the process (and its children). Idempotent. */
  close(): Promise<void>;
}

/**
 * One isolated workspace. Paths are relative to the workspace; escapes (`..`, absolute paths, symlinks
 * pointing out) are refused with code `path_outside_workspace`.
 */
export interface Sandbox extends AsyncDisposable {
  readonly id: string;
  readonly provider: SandboxProviderName;
  /** The workspace path as commands inside the sandbox see it. */
  readonly workdir: string;
  run(command: string, options?: RunOptions): Promise<CommandResult>;
  readFile(path: string): Promise<string>;
  readFileBytes(path: string): Promise<Uint8Array>;
  writeFile(path: string, content: string | Uint8Array): Promise<void>;
  listFiles(path?: string): Promise<FileEntry[]>;
  info(): Promise<SandboxInfo>;
  /**
   * The command line that runs `spec` inside this sandbox with stdio piped to the caller, for MCP stdio
   * transports. Providers that cannot do this (a remote VM) leave it undefined.
   */
  wrapSpawn?(spec: SpawnSpec): { command: string; args: string[]; env: Record<string, string>; cwd?: string };
  /**
   * Starts `spec` inside this sandbox and returns its piped stdio (for stdio MCP servers). Offered by every
   * provider; callers prefer `wrapSpawn` when it exists (no relay in between) and use this otherwise.
   * `cwd` is relative to the workspace and must exist; `network` as in `run`.
   */
  openStdio?(spec: SpawnSpec): Promise<StdioChannel>;
  /**
   * Pushes a cloud sandbox's expiry forward now (E2B, within the plan's lifetime cap); best effort, never
   * throws. Sandboxes that do not expire (local) leave it undefined.
   */
  extendLifetime?(): Promise<void>;
  /** Pauses a cloud sandbox while the task waits for a person (billing stops); `resume` or reconnecting wakes it. */
  pause?(): Promise<void>;
  resume?(): Promise<void>;
  /** Kills every process and frees the sandbox. Idempotent. */
  close(): Promise<void>;
}

export interface CreateSandboxOptions {
  taskId: string;
  env?: Record<string, string>;
  metadata?: Record<string, string>;
  /** seconds; a cloud sandbox's lifetime before it is extended */
  timeoutSeconds?: number;
  /** The task's egress allowlist: no command of this sandbox gets more. @default the provider's (DEEP_AGENT_NETWORK_ALLOW), else none */
  network?: TaskNetwork;
  /**
   * Credentials of this sandbox only, besides the provider's (`DEEP_AGENT_SANDBOX_SECRETS`), held the same way:
   * a sentinel inside, the value only on requests to their hosts. The caller resolves the values (for a task,
   * from its account's own stored credentials) and must keep them out of records and events.
   */
  maskedCredentials?: readonly MaskedCredentialSpec[];
}

export interface SandboxProvider {
  readonly name: SandboxProviderName;
  create(options: CreateSandboxOptions): Promise<Sandbox>;
  /** Reattach to a sandbox that still runs (after a durable replay or a restart). */
  connect?(sandboxId: string, options: CreateSandboxOptions): Promise<Sandbox>;
  /**
   * Each resource limit of this provider's sandboxes and how it is held (`by: 'none'` where it cannot be), for
   * `task.started` and `doctor`.
   */
  enforcedLimits?(): Promise<EnforcedLimits>;
}
