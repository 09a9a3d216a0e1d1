/**
 * A sandbox on this machine: a workspace directory, confined file operations, and commands started through a
 * launcher (bubblewrap, or directly for `unsafe-local`).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, realpath, rm, stat, statfs } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { relative, sep } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { DeepAgentError } from '../../errors/index.js';
import type { CommandResult, FileEntry, RunOptions, Sandbox, SandboxInfo, SandboxProviderName, SpawnSpec, StdioChannel } from '../types.js';
import { StdioChannelEvents } from '../stdio-channel.js';
import {
  BACKGROUND_LOG_DIR,
  WORKSPACE_ALIAS,
  checkedEnv,
  commandLimits,
  hitDataLimit,
  hitFileSizeLimit,
  limitExceeded,
  resourceLimits,
  type CommandLimits,
  type EnforcedLimits,
  type ResourceLimits,
  type ResourceName,
  egressFor,
  type NetworkRequest,
  type TaskNetwork,
} from '../shared/index.js';
import type { EgressProxy, HostOverrides, MaskedCredential } from './egress-launch.js';
import type { MitmCA } from '@anthropic-ai/sandbox-runtime/dist/sandbox/mitm-ca.js';

type EgressModule = typeof import('./egress-proxy.js');
let egressModule: EgressModule | undefined;

/**
 * Loads the egress proxy (the sandbox-runtime's pieces and node-forge) once, before a sandbox that isolates its
 * network starts: commands start synchronously (`wrapSpawn`), so it must be there by then, and a process that
 * only runs E2B sandboxes (the agent Lambda) never loads it.
 *
 * @example
 * await loadEgressProxy(); // in a provider's create()
 */
export async function loadEgressProxy(): Promise<EgressModule> {
  // Not a literal specifier on purpose: bundlers (esbuild for the Lambda functions) leave it out of a bundle.
  const specifier = './egress-proxy.js';
  return (egressModule ??= (await import(specifier)) as EgressModule);
}

function egressProxy(): EgressModule {
  if (!egressModule) throw new DeepAgentError('internal', 'the egress proxy was not loaded before the sandbox started');
  return egressModule;
}
import { WorkspaceFiles } from './workspace.js';
import { killProcessGroup, runProcess, startBackgroundProcess, waitForExit, type ProcessResult, type ProcessSpec } from './process.js';
import { ResourceControl, type LimitCounters } from './resource-control.js';

/** The standard PATH inside a local sandbox. */
export const DEFAULT_SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What a launcher needs to start one process inside the sandbox. */
export interface LaunchRequest {
  argv: string[];
  /** Host path of the working directory (inside the workspace). */
  hostCwd: string;
  /** The same directory as the process sees it. */
  sandboxCwd: string;
  /** The complete environment of the process (already cleaned). */
  env: Record<string, string>;
  /** The host's whole network: only for a launcher that isolates nothing (`unsafe-local`). */
  network: boolean;
  /**
   * Only what this proxy lets through (a host list, or any public host): a network namespace of its own whose one way out is the proxy's socket;
   * `trust`: the proxy intercepts TLS for masked credentials, so its CA files in `socketDir` are trusted.
   */
  egress?: { socketDir: string; trust: boolean };
}

/** Turns a launch request into a host command line. */
export interface CommandLauncher {
  launch(request: LaunchRequest): ProcessSpec;
  readonly network: SandboxInfo['network'];
}

export interface LocalSandboxInit {
  id: string;
  provider: SandboxProviderName;
  /** The workspace as commands see it. */
  workdir: string;
  /** Real host path of the workspace. */
  hostRoot: string;
  /** HOME as commands see it. */
  home: string;
  /** Host directory behind HOME, removed with the workspace when `removeWorkspace` is set. */
  hostHome: string;
  launcher: CommandLauncher;
  limits: CommandLimits;
  /** Memory, process and disk limits of this sandbox, held with what the host offers. */
  control: ResourceControl;
  /** The shell that runs `run()` commands (`<shell> -c <command>`). */
  shell: string;
  /** PATH, HOME, LANG, TERM and the env given at creation. */
  baseEnv: Record<string, string>;
  removeWorkspace: boolean;
  /** The task's egress allowlist, bounding every command. */
  taskNetwork?: TaskNetwork;
  /** Fixed name resolution of the egress proxies (a test seam). */
  hostOverrides?: HostOverrides;
  /** Credentials whose sentinels are in `baseEnv`; their values stay on this side, for the proxies. */
  maskedCredentials?: MaskedCredential[];
}

/**
 * One local sandbox. Create it through a provider.
 *
 * @example
 * await using sandbox = await new BubblewrapSandboxProvider({ home }).create({ taskId: 't1' });
 * const { stdout } = await sandbox.run('ls');
 */
export class LocalSandbox implements Sandbox {
  readonly id: string;
  readonly provider: SandboxProviderName;
  readonly workdir: string;
  private readonly files: WorkspaceFiles;
  private readonly live = new Set<ChildProcess>();
  /** Egress proxies of processes that outlive the call that started them (wrapSpawn, background, stdio). */
  private readonly proxies = new Set<EgressProxy>();
  /** The interception CA of this sandbox's run, made on the first proxy that substitutes a credential. */
  private ca?: MitmCA;
  private closing?: Promise<void>;
  /** What was left of the disk quota after the last command (for `wrapSpawn`, which cannot wait). */
  private fileSizeCap: number;

  constructor(private readonly init: LocalSandboxInit) {
    this.id = init.id;
    this.provider = init.provider;
    this.workdir = init.workdir;
    this.files = new WorkspaceFiles({ hostRoot: init.hostRoot, aliases: [init.workdir, WORKSPACE_ALIAS], maxListEntries: init.limits.maxListEntries });
    this.fileSizeCap = init.control.limits.diskMb * 2 ** 20;
  }

  /** How this sandbox's memory, process and disk limits are held on this host. */
  get enforcedLimits(): EnforcedLimits {
    return this.init.control.enforced();
  }

  /** Host path of the workspace (kept after `close()` unless `removeWorkspace` is set). */
  get hostWorkspace(): string {
    return this.init.hostRoot;
  }

  async run(command: string, options: RunOptions = {}): Promise<CommandResult> {
    this.assertOpen();
    if (typeof command !== 'string' || command.trim() === '') throw new DeepAgentError('invalid_input', 'the command is empty');
    const { request, proxy } = await this.launchRequest([this.init.shell, '-c', command], options.cwd, options.env, options.network);
    if (options.background) return this.startBackground(request, options, proxy);
    try {
      return await this.runForeground(request, options);
    } finally {
      await proxy?.close();
    }
  }

  private async runForeground(request: LaunchRequest, options: RunOptions): Promise<CommandResult> {
    const control = this.init.control;
    const before = { ...(await control.counters()), diskBytes: await control.diskUsageBytes() };
    const quota = control.limits.diskMb * 2 ** 20;
    this.fileSizeCap = Math.max(0, quota - before.diskBytes);
    const { stoppedBy, ...result } = await runProcess(control.wrap(this.init.launcher.launch(request), this.fileSizeCap), {
      timeoutMs: options.timeoutMs ?? this.init.limits.defaultTimeoutMs,
      maxOutputBytes: this.init.limits.maxOutputBytes,
      signal: options.signal,
      onStdout: options.onStdout,
      onStderr: options.onStderr,
      live: this.live,
      watch: { intervalMs: 500, check: () => this.limitHitWhileRunning(before) },
    });
    const usage = await control.diskUsageBytes();
    this.fileSizeCap = Math.max(0, quota - usage);
    const limit = stoppedBy ?? (await this.limitHitBy(result, before, usage));
    if (limit) throw limitExceeded(limit, control.limits, result);
    return result;
  }

  /** The host command line of a request, inside this sandbox's limits (the file size cap is the quota left). */
  private async launch(request: LaunchRequest): Promise<ProcessSpec> {
    this.fileSizeCap = await this.init.control.remainingDiskBytes();
    return this.init.control.wrap(this.init.launcher.launch(request), this.fileSizeCap);
  }

  /**
   * True when this command took the workspace past its quota: over it now and grown since the command began
   * (a workspace already over it, from before, does not fail every later command).
   */
  private grewPastQuota(before: { diskBytes: number }, usage: number): boolean {
    return usage > this.init.control.limits.diskMb * 2 ** 20 && usage > before.diskBytes;
  }

  /** Polled while a command runs: the cgroup counters, and the disk quota. */
  private async limitHitWhileRunning(before: LimitCounters & { diskBytes: number }): Promise<ResourceName | undefined> {
    const control = this.init.control;
    return ResourceControl.hit(before, await control.counters()) ?? (this.grewPastQuota(before, await control.diskUsageBytes()) ? 'diskMb' : undefined);
  }

  /** After a command: did it end because it hit a limit? */
  private async limitHitBy(result: ProcessResult, before: LimitCounters & { diskBytes: number }, usage: number): Promise<ResourceName | undefined> {
    const control = this.init.control;
    const byCounters = ResourceControl.hit(before, await control.counters());
    if (byCounters) return byCounters;
    if (hitFileSizeLimit(result) || this.grewPastQuota(before, usage)) return 'diskMb';
    if (control.enforced().memoryMb.by.startsWith('rlimit') && hitDataLimit(result)) return 'memoryMb';
    return undefined;
  }

  readFile(path: string): Promise<string> {
    return this.files.readText(path);
  }

  async readFileBytes(path: string): Promise<Uint8Array> {
    return new Uint8Array(await this.files.readBytes(path));
  }

  writeFile(path: string, content: string | Uint8Array): Promise<void> {
    this.assertOpen();
    return this.files.write(path, content);
  }

  listFiles(path?: string): Promise<FileEntry[]> {
    return this.files.list(path);
  }

  async info(): Promise<SandboxInfo> {
    let diskMb: number | undefined;
    try {
      const fs = await statfs(this.init.hostRoot);
      diskMb = Math.floor((fs.bavail * fs.bsize) / 2 ** 20);
    } catch {
      diskMb = undefined;
    }
    const control = this.init.control;
    const quotaLeftMb = Math.floor((await control.remainingDiskBytes()) / 2 ** 20);
    return {
      id: this.id,
      provider: this.provider,
      workdir: this.workdir,
      resources: {
        cpus: availableParallelism(),
        memoryMb: Math.min(control.limits.memoryMb, Math.floor(totalmem() / 2 ** 20)),
        diskMb: diskMb !== undefined ? Math.min(diskMb, quotaLeftMb) : quotaLeftMb,
      },
      limits: control.enforced(),
      network: this.init.launcher.network,
    };
  }

  /**
   * The host command line that runs a long-lived process (a stdio MCP server) in this sandbox, stdio piped.
   * Its `cwd` must already exist. The caller owns the process it spawns.
   */
  wrapSpawn(spec: SpawnSpec): { command: string; args: string[]; env: Record<string, string>; cwd?: string } {
    this.assertOpen();
    const rel = this.files.lexical(spec.cwd ?? '.');
    const hostCwd = rel ? `${this.init.hostRoot}/${rel}` : this.init.hostRoot;
    const { network, proxy } = this.networkOf(spec.network);
    // The caller owns the process; its proxy lives until the sandbox closes.
    if (proxy) this.proxies.add(proxy);
    const launched = this.init.control.wrap(this.init.launcher.launch({
      argv: [spec.command, ...spec.args],
      hostCwd,
      sandboxCwd: this.sandboxPathOf(hostCwd),
      env: { ...this.init.baseEnv, ...checkedEnv(spec.env) },
      network,
      ...(proxy ? { egress: { socketDir: proxy.socketDir, trust: proxy.intercepts } } : {}),
    }), this.fileSizeCap);
    return { command: launched.command, args: launched.args, env: launched.env, ...(launched.cwd ? { cwd: launched.cwd } : {}) };
  }

  /**
   * Starts `spec` in this sandbox (its `wrapSpawn` line) with piped stdio and returns the channel, so that code
   * written for remote sandboxes (E2B) runs the same way here. `cwd` must exist; closing the sandbox kills it.
   *
   * @example
   * const channel = await sandbox.openStdio({ command: 'cat', args: [] });
   * channel.onData((s) => console.log(s));
   * await channel.write('hi\n');
   */
  async openStdio(spec: SpawnSpec): Promise<StdioChannel> {
    this.assertOpen();
    const { request, proxy } = await this.launchRequest([spec.command, ...spec.args], spec.cwd, spec.env, spec.network);
    if (proxy) this.proxies.add(proxy);
    const line = await this.launch(request);
    const child = spawn(line.command, line.args, { cwd: line.cwd, env: line.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.live.add(child);
    const events = new StdioChannelEvents();
    child.stdout!.setEncoding('utf8').on('data', (d: string) => events.data(d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => events.stderr(d));
    // A write racing the exit fails with EPIPE; the exit is what the caller hears about.
    child.stdin!.on('error', () => {});
    child.on('close', (code) => {
      this.live.delete(child);
      if (proxy) void this.releaseProxy(proxy);
      events.exit(code);
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e) => {
        this.live.delete(child);
        events.exit(null);
        reject(new DeepAgentError('sandbox_error', `cannot start ${spec.command} in sandbox ${this.id}: ${e.message}`));
      });
    });
    return {
      ...(child.pid !== undefined ? { pid: child.pid } : {}),
      ...events.listeners(),
      write: (data) =>
        new Promise<void>((resolve, reject) => {
          if (events.exited || !child.stdin!.writable) return reject(new DeepAgentError('sandbox_error', `the process ${spec.command} has ended`));
          child.stdin!.write(data, (e) => (e ? reject(new DeepAgentError('sandbox_error', `cannot write to ${spec.command}: ${e.message}`)) : resolve()));
        }),
      close: async () => {
        if (events.exited) return;
        killProcessGroup(child);
        await waitForExit(child, 2000);
      },
    };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async shutdown(): Promise<void> {
    const children = [...this.live];
    for (const child of children) killProcessGroup(child);
    await Promise.all(children.map((c) => waitForExit(c, 2000)));
    await Promise.all([...this.proxies].map((p) => this.releaseProxy(p)));
    if (this.ca) await egressProxy().disposeInterceptionCa(this.ca);
    await this.init.control.close();
    if (this.init.removeWorkspace) {
      await rm(this.init.hostRoot, { recursive: true, force: true });
      await rm(this.init.hostHome, { recursive: true, force: true });
    }
  }

  private assertOpen(): void {
    if (this.closing) throw new DeepAgentError('sandbox_error', `sandbox ${this.id} is closed`);
  }

  private async launchRequest(
    argv: string[],
    cwd: string | undefined,
    env: Record<string, string> | undefined,
    requested: NetworkRequest | undefined,
  ): Promise<{ request: LaunchRequest; proxy?: EgressProxy }> {
    const hostCwd = await this.files.resolve(cwd ?? '.');
    const isDir = await stat(hostCwd).then((s) => s.isDirectory(), () => false);
    if (!isDir) throw new DeepAgentError('invalid_input', `cwd ${cwd} is not a directory in the workspace`);
    const checked = { ...this.init.baseEnv, ...checkedEnv(env) };
    const { network, proxy } = this.networkOf(requested);
    const request: LaunchRequest = { argv, hostCwd, sandboxCwd: this.sandboxPathOf(hostCwd), env: checked, network, ...(proxy ? { egress: { socketDir: proxy.socketDir, trust: proxy.intercepts } } : {}) };
    return { request, ...(proxy ? { proxy } : {}) };
  }

  /**
   * A command's network, bounded by the task's allowlist: none, or a proxy of its own (its host list, or any
   * public host for `network: true` without a task allowlist: internal addresses stay refused either way). A
   * launcher that isolates nothing (`unsafe-local`) gets the host's network whatever was asked.
   */
  private networkOf(requested: NetworkRequest | undefined): { network: boolean; proxy?: EgressProxy } {
    const egress = egressFor(requested, this.init.taskNetwork);
    if (egress.kind === 'none') return { network: false };
    if (this.init.launcher.network === 'on') return { network: true };
    const credentials = this.init.maskedCredentials ?? [];
    const { EgressProxy, createInterceptionCa } = egressProxy();
    if (credentials.length) this.ca ??= createInterceptionCa();
    const proxy = EgressProxy.open({
      allow: egress.kind === 'public' ? 'any-public-host' : egress.allow,
      ...(this.init.hostOverrides ? { hostOverrides: this.init.hostOverrides } : {}),
      ...(credentials.length && this.ca ? { credentials, ca: this.ca } : {}),
    });
    return { network: false, proxy };
  }

  private async releaseProxy(proxy: EgressProxy): Promise<void> {
    this.proxies.delete(proxy);
    await proxy.close();
  }

  private sandboxPathOf(hostPath: string): string {
    const rel = relative(this.init.hostRoot, hostPath).split(sep).join('/');
    return rel ? `${this.workdir}/${rel}` : this.workdir;
  }

  private async startBackground(request: LaunchRequest, options: RunOptions, proxy?: EgressProxy): Promise<CommandResult> {
    if (proxy) this.proxies.add(proxy);
    const started = performance.now();
    const backgroundId = `bg-${randomUUID().slice(0, 8)}`;
    const logDir = await this.files.resolve(BACKGROUND_LOG_DIR);
    await mkdir(logDir, { recursive: true });
    const log = await open(`${logDir}/${backgroundId}.log`, 'a', 0o644);
    try {
      const child = startBackgroundProcess(await this.launch(request), log.fd, this.live);
      if (proxy) child.once('exit', () => void this.releaseProxy(proxy));
      if (options.timeoutMs !== undefined) {
        const timer = setTimeout(() => killProcessGroup(child), options.timeoutMs);
        child.once('exit', () => clearTimeout(timer));
      }
      options.signal?.addEventListener('abort', () => killProcessGroup(child), { once: true });
      // The signal may have aborted while the command was being prepared (its listener missed that).
      if (options.signal?.aborted) killProcessGroup(child);
    } finally {
      await log.close();
    }
    return { stdout: '', stderr: '', exitCode: null, timedOut: false, truncated: false, durationMs: Math.round(performance.now() - started), backgroundId };
  }
}

/** Options shared by the local providers. */
export interface LocalSandboxProviderOptions {
  /** The state directory (`DEEP_AGENT_HOME`); workspaces live in `<home>/workspaces/<taskId>`. */
  home: string;
  /** @default 120000 */
  defaultTimeoutMs?: number;
  /** Per stream. @default 262144 (256 KiB) */
  maxOutputBytes?: number;
  /** @default 5000 */
  maxListEntries?: number;
  /**
   * Memory, processes and workspace disk of one task's sandbox.
   * @default { memoryMb: 2048, pids: 512, diskMb: 4096 }
   */
  resourceLimits?: Partial<ResourceLimits>;
  /** Hold memory and process limits with a cgroup when the host offers one. @default true */
  cgroups?: boolean;
  /** PATH inside the sandbox. @default DEFAULT_SANDBOX_PATH */
  path?: string;
  /** The egress allowlist of a task that brings none (`DEEP_AGENT_NETWORK_ALLOW`). @default none: `network: true` is any public host */
  networkAllow?: readonly string[];
  /** Fixed name resolution of the egress proxies, consulted before DNS (a test seam: a local server for a listed name). */
  hostOverrides?: HostOverrides;
  /**
   * Credentials the sandbox can use but never read (`DEEP_AGENT_SANDBOX_SECRETS`): inside, each variable holds a
   * sentinel; the egress proxy substitutes the value only on requests to its hosts (and only for commands whose
   * network reaches them, which is every command with network: each goes through its proxy).
   */
  maskedCredentials?: readonly { name: string; value: string; hosts: readonly string[] }[];
  /**
   * Delete the workspace (and the sandbox's HOME) on `close()`. The default keeps them so that the user can
   * inspect what the agent did.
   * @default false
   */
  removeWorkspace?: boolean;
}

const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Creates (or reuses) the host directories of a task's sandbox: `<home>/workspaces/<taskId>` and the HOME
 * of its commands, `<home>/sandbox-homes/<taskId>`. Returns their real paths.
 *
 * @example
 * const { hostRoot, hostHome } = await prepareLocalWorkspace('/srv/.deep-agent', 't1');
 */
export async function prepareLocalWorkspace(home: string, taskId: string): Promise<{ hostRoot: string; hostHome: string }> {
  if (typeof taskId !== 'string' || !TASK_ID.test(taskId)) {
    throw new DeepAgentError('invalid_input', `task id ${JSON.stringify(taskId)} cannot name a workspace (letters, digits, ".", "_", "-")`);
  }
  const hostRoot = `${home}/workspaces/${taskId}`;
  const hostHome = `${home}/sandbox-homes/${taskId}`;
  await mkdir(hostRoot, { recursive: true, mode: 0o755 });
  await mkdir(hostHome, { recursive: true, mode: 0o700 });
  return { hostRoot: await realpath(hostRoot), hostHome: await realpath(hostHome) };
}

/** Resolves provider options into limits. */
export function limitsFrom(options: LocalSandboxProviderOptions): CommandLimits {
  return commandLimits(options);
}

/**
 * The resource control of a new local sandbox: its limits from the provider options, its disk quota over the
 * workspace and the sandbox's HOME.
 *
 * @example
 * const control = await resourceControlFor(options, hostRoot, hostHome);
 */
export function resourceControlFor(options: LocalSandboxProviderOptions, hostRoot: string, hostHome: string): Promise<ResourceControl> {
  return ResourceControl.create({ limits: resourceLimits(options.resourceLimits), diskPaths: [hostRoot, hostHome], cgroups: options.cgroups });
}

/**
 * How the local providers' limits are held on this host, found by creating (and removing) one set of groups.
 *
 * @example
 * const limits = await enforcedLocalLimits(options); // { memoryMb: { value: 2048, by: 'cgroup v1' }, ... }
 */
export async function enforcedLocalLimits(options: LocalSandboxProviderOptions): Promise<EnforcedLimits> {
  const probe = await ResourceControl.create({ limits: resourceLimits(options.resourceLimits), diskPaths: [], cgroups: options.cgroups });
  try {
    return probe.enforced();
  } finally {
    await probe.close();
  }
}
