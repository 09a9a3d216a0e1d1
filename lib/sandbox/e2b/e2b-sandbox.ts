/**
 * One E2B cloud sandbox behind the project's `Sandbox` port, with the same semantics as the local provider:
 * paths confined to the workspace, per-stream output caps, timeouts that kill the whole process tree,
 * background processes, and no network unless a command asks for it (see `NetworkPolicy`).
 */
import { posix } from 'node:path';
import { DeepAgentError } from '../../errors/index.js';
import type { Redactor } from '../../secrets/index.js';
import type { CommandResult, FileEntry, RunOptions, Sandbox, SandboxInfo, SpawnSpec, StdioChannel } from '../types.js';
import { StdioChannelEvents } from '../stdio-channel.js';
import {
  BACKGROUND_LOG_DIR,
  CappedOutput,
  DEFAULT_COMMAND_LIMITS,
  WORKSPACE_ALIAS,
  checkedEnv,
  hitDataLimit,
  hitFileSizeLimit,
  hitProcessLimit,
  limitExceeded,
  outsideWorkspace,
  workspaceParts,
  type EnforcedLimits,
  type ResourceLimits,
  egressFor,
  hostOfPattern,
  type Egress,
  type NetworkRequest,
  type TaskNetwork,
  type HeaderRules,
} from '../shared/index.js';
import { mapE2BError } from './errors.js';
import { SandboxKeepAlive } from './keep-alive.js';
import type { E2BCommandHandle, E2BCommandOutcome, E2BNetworkUpdate, E2BSandboxInstance } from './sdk.js';

/** An allowlist entry as E2B's allowOut takes it: a host or IP without port or brackets. */
const e2bHostOf = hostOfPattern;

/**
 * What `network: true` denies on E2B while it opens the internet: link-local (169.254.169.254, the metadata
 * endpoint, among them), the private and shared ranges, and the other clouds' IPv4 metadata addresses. E2B's
 * `denyOut` takes IPv4 CIDRs only and the sandbox's own loopback is its own, so this is what E2B lets us deny;
 * a literal entry in a host list still wins (`allowOut` takes precedence over `denyOut`).
 */
export const E2B_DENIED_INTERNAL_RANGES = [
  '169.254.0.0/16',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '168.63.129.16/32',
  '192.0.0.192/32',
];

/** Where the agent works inside an E2B sandbox (the template's default user is `user`). */
export const E2B_WORKDIR = '/home/user/workspace';
/** Per-stream output cap, equal to the local provider's (the shared default). */
export const DEFAULT_OUTPUT_CAP_BYTES = DEFAULT_COMMAND_LIMITS.maxOutputBytes;
export const DEFAULT_COMMAND_TIMEOUT_MS = DEFAULT_COMMAND_LIMITS.defaultTimeoutMs;
export const DEFAULT_MAX_LIST_ENTRIES = DEFAULT_COMMAND_LIMITS.maxListEntries;

/**
 * How network access is enforced. E2B filters egress per sandbox, not per process:
 * - `per-command` (default): the sandbox is created with `allowInternetAccess: false` (E2B then denies all
 *   outbound traffic, as `denyOut: ['0.0.0.0/0']`). A command with `network: true` turns internet on with
 *   `updateNetwork` for as long as it (or a background process started with it) runs, then off again. While it
 *   is on, every process in the sandbox can reach the internet, not only that command.
 * - `always-on`: E2B's default, internet for everything (the MCP gateway sandbox needs it).
 */
export type NetworkPolicy = 'per-command' | 'always-on';

export const NETWORK_POLICY_TEXT: Record<NetworkPolicy, string> = {
  'per-command':
    'E2B egress is denied (allowInternetAccess=false) except while a command run with network=true is running; ' +
    'while it runs the whole sandbox has internet but link-local, metadata and private ranges (E2B has no per-process network control).',
  'always-on': 'E2B default: the sandbox has internet access for every command.',
};

/** `SandboxInfo` plus what is specific to E2B; the `sandbox_info` tool shows all of it. */
export interface E2BSandboxInfo extends SandboxInfo {
  template?: string;
  state?: string;
  networkPolicy: string;
  /** seconds left under the plan's lifetime cap (1 h Hobby, 24 h Pro) */
  lifetimeLeftSeconds: number;
  notes: string[];
}

export interface E2BSandboxSettings {
  workdir: string;
  /** Memory (per process, under the template's size), processes and the workspace quota. */
  limits: ResourceLimits;
  outputCapBytes: number;
  defaultCommandTimeoutMs: number;
  maxListEntries: number;
  networkPolicy: NetworkPolicy;
  /** The task's egress allowlist, bounding every command. */
  taskNetwork?: TaskNetwork;
  /** Header injections of masked credentials, re-sent with every network update (an update replaces them). */
  headerRules?: HeaderRules;
  redactor?: Redactor;
  /** Reattaches to the same sandbox after a pause (Sandbox.connect). */
  reconnect(sandboxId: string): Promise<E2BSandboxInstance>;
  /** Builds the keep-alive for an instance. */
  keepAlive(instance: E2BSandboxInstance): SandboxKeepAlive;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Stops a process, then SIGKILLs its descendants and itself (reads /proc, so it needs no procps). */
const killTreeScript = (pid: number) =>
  `kt() { kill -STOP "$1" 2>/dev/null; for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do kt "$c"; done; kill -KILL "$1" 2>/dev/null; }; kt ${pid}`;

/**
 * How E2B sandboxes hold the resource limits: rlimits set in each command's shell inside the VM, under the
 * template's own memory and disk size.
 *
 * @example
 * e2bEnforcedLimits(resourceLimits()).pids; // { value: 512, by: 'rlimit (RLIMIT_NPROC, the sandbox user)' }
 */
export function e2bEnforcedLimits(limits: ResourceLimits): EnforcedLimits {
  return {
    memoryMb: { value: limits.memoryMb, by: "rlimit (RLIMIT_DATA, per process) within the template's memory" },
    pids: { value: limits.pids, by: 'rlimit (RLIMIT_NPROC, the sandbox user)' },
    diskMb: { value: limits.diskMb, by: 'rlimit (RLIMIT_FSIZE) + workspace size check around each command' },
  };
}

const e2bErrorName = (e: unknown) => (e instanceof Error ? e.name : '');

/**
 * The `Sandbox` implementation on one E2B sandbox instance. Create it through `E2BSandboxProvider`.
 *
 * @example
 * const sandbox = await provider.create({ taskId });
 * try { await sandbox.run('python3 --version'); } finally { await sandbox.close(); }
 */
export class E2BSandbox implements Sandbox {
  readonly provider = 'e2b' as const;
  readonly id: string;
  readonly workdir: string;
  private closed: Promise<void> | undefined;
  private paused = false;
  /** The egress of every command now running with network; the sandbox's rules are their union. */
  private grants: Egress[] = [];
  /** The rules last sent to E2B (the sandbox is created with internet off). */
  private appliedNetwork: string;
  /** true when turning the network back off failed: we can no longer promise it is off */
  private networkUnknown = false;
  private networkQueue: Promise<void> = Promise.resolve();
  private keepAlive: SandboxKeepAlive;

  constructor(
    private instance: E2BSandboxInstance,
    private readonly settings: E2BSandboxSettings,
    private readonly template?: string,
  ) {
    this.id = instance.sandboxId;
    this.appliedNetwork = JSON.stringify(E2BSandbox.rulesFor([], settings.headerRules));
    this.workdir = settings.workdir;
    this.keepAlive = settings.keepAlive(instance);
    this.keepAlive.start();
  }

  /** The keep-alive of this sandbox (tests and diagnostics). */
  get lifetime(): SandboxKeepAlive {
    return this.keepAlive;
  }

  /** Pushes the sandbox's expiry forward now (within the plan's lifetime cap); never throws. */
  extendLifetime(): Promise<void> {
    return this.keepAlive.tick();
  }

  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  private fail(e: unknown, operation: string, path?: string): DeepAgentError {
    return mapE2BError(e, { operation, sandboxId: this.id, path, redactor: this.settings.redactor });
  }

  private assertUsable(operation: string): void {
    if (this.closed) throw new DeepAgentError('sandbox_error', `sandbox ${this.id} is closed; ${operation} is not possible.`);
    if (this.paused) throw new DeepAgentError('sandbox_error', `sandbox ${this.id} is paused; resume it before ${operation}.`);
  }

  /** Runs a short helper script and returns its outcome, whatever the exit code. */
  private async exec(script: string, timeoutMs = 30_000): Promise<E2BCommandOutcome> {
    const handle = await this.instance.commands.run(script, { background: true, timeoutMs });
    try {
      return await handle.wait();
    } catch (e) {
      if (e2bErrorName(e) === 'CommandExitError') return e as E2BCommandOutcome;
      throw e;
    }
  }

  /**
   * Resolves a workspace path to an absolute path inside the sandbox, refusing escapes: first lexically
   * (`..`, absolute paths other than the workspace's, `/workspace/...` being an alias as in the local
   * sandbox) on our side, then through symlinks with `realpath` inside the sandbox. Also says what is there.
   */
  async resolvePath(
    path: string | undefined,
    operation: string,
    withUsage = false,
  ): Promise<{ path: string; kind: 'dir' | 'file' | 'missing'; usageBytes?: number }> {
    const shown = path ?? '.';
    const inside = (p: string) => p === this.workdir || p.startsWith(this.workdir + '/');
    const refuse = () => outsideWorkspace(shown);
    // The same naming rules as every sandbox (`/workspace/...` is an alias)...
    const parts = workspaceParts(shown, [this.workdir, WORKSPACE_ALIAS]);
    const aliased = parts.join('/') || '.';
    // ...and a lexical check first (cheap, and an escape by `..` is refused without asking E2B)...
    if (!inside(posix.resolve(this.workdir, aliased))) throw refuse();
    // ...then the real path, computed by the sandbox on the unnormalised path: `link/..` must follow the link.
    const wanted = `${this.workdir}/${aliased}`;
    let real: E2BCommandOutcome;
    try {
      real = await this.exec(
        `p=$(realpath -m -- ${quote(wanted)}) || exit 3; printf '%s\\n' "$p"; if [ -d "$p" ]; then echo dir; elif [ -e "$p" ]; then echo file; else echo missing; fi` +
          // The workspace's size comes with it, so the disk quota costs no extra round trip.
          (withUsage ? `; du -s -x --block-size=1 -- ${quote(this.workdir)} 2>/dev/null | cut -f1` : ''),
      );
    } catch (e) {
      throw this.fail(e, operation, shown);
    }
    const [resolved, kind, usage] = real.stdout.trimEnd().split('\n');
    if (real.exitCode !== 0 || !resolved) throw new DeepAgentError('sandbox_error', `cannot resolve ${shown} in sandbox ${this.id}.`);
    if (!inside(resolved)) throw refuse();
    return {
      path: resolved,
      kind: kind === 'dir' ? 'dir' : kind === 'file' ? 'file' : 'missing',
      ...(withUsage && usage !== undefined && /^\d+$/.test(usage) ? { usageBytes: Number(usage) } : {}),
    };
  }

  private serializeNetwork(fn: () => Promise<void>): Promise<void> {
    const next = this.networkQueue.then(fn);
    this.networkQueue = next.catch(() => {});
    return next;
  }

  /**
   * The sandbox-wide egress rules while these grants are live: E2B has no per-process switch, so every process
   * gets the union (the internet but its internal ranges while any command has unbounded `network: true`).
   * Ports of `host:port` entries cannot be held by E2B's allowOut and are dropped there.
   */
  private static rulesFor(grants: Egress[], headerRules?: HeaderRules): E2BNetworkUpdate {
    const egress = E2BSandbox.egressRulesFor(grants);
    return headerRules ? { ...egress, rules: headerRules } : egress;
  }

  private static egressRulesFor(grants: Egress[]): E2BNetworkUpdate {
    const hosts = [...new Set(grants.flatMap((g) => (g.kind === 'allowlist' ? g.allow.map(e2bHostOf) : [])))];
    if (grants.some((g) => g.kind === 'public')) {
      return { allowInternetAccess: true, ...(hosts.length ? { allowOut: hosts } : {}), denyOut: [...E2B_DENIED_INTERNAL_RANGES] };
    }
    return hosts.length ? { allowOut: hosts, denyOut: ['0.0.0.0/0'] } : { allowInternetAccess: false };
  }

  /** Applies the rules of the live grants when they changed. */
  private async applyNetwork(): Promise<void> {
    const rules = E2BSandbox.rulesFor(this.grants, this.settings.headerRules);
    const key = JSON.stringify(rules);
    if (key === this.appliedNetwork) return;
    await this.instance.updateNetwork(rules);
    this.appliedNetwork = key;
  }

  /** The command's egress (bounded by the task's allowlist), turned on for the sandbox; undefined for none. */
  private async acquireNetwork(requested: NetworkRequest | undefined): Promise<Egress | undefined> {
    const egress = egressFor(requested, this.settings.taskNetwork);
    if (egress.kind === 'none') return undefined;
    if (this.settings.networkPolicy === 'always-on') return egress;
    await this.serializeNetwork(async () => {
      this.grants.push(egress);
      try {
        await this.applyNetwork();
      } catch (e) {
        this.grants.splice(this.grants.indexOf(egress), 1);
        throw this.fail(e, 'enable network');
      }
    });
    return egress;
  }

  private releaseNetwork(grant: Egress | undefined): Promise<void> {
    if (!grant || this.settings.networkPolicy === 'always-on') return Promise.resolve();
    return this.serializeNetwork(async () => {
      const at = this.grants.indexOf(grant);
      if (at >= 0) this.grants.splice(at, 1);
      if (this.closed) return;
      try {
        await this.applyNetwork();
        this.networkUnknown = false;
      } catch {
        this.networkUnknown = true;
      }
    });
  }

  /** SIGKILLs a command's whole process tree inside the sandbox; best effort. */
  private async killTree(handle: E2BCommandHandle): Promise<void> {
    await this.exec(killTreeScript(handle.pid), 15_000).catch(() => undefined);
    await handle.kill().catch(() => false);
  }

  /**
   * The shell lines that put a command under the sandbox's limits: per process memory (RLIMIT_DATA) under the
   * template's VM size, processes of the sandbox user (RLIMIT_NPROC: inside the VM they are the sandbox's own),
   * and no file larger than what is left of the workspace quota (bash counts `-d` and `-f` in KiB).
   */
  private ulimits(usageBytes?: number): string {
    const l = this.settings.limits;
    const leftKiB = Math.max(0, Math.floor((l.diskMb * 2 ** 20 - (usageBytes ?? 0)) / 1024));
    return `ulimit -d ${l.memoryMb * 1024} 2>/dev/null; ulimit -u ${l.pids} 2>/dev/null; ulimit -f ${leftKiB} 2>/dev/null`;
  }

  /**
   * After a command: true when the workspace is over its quota and grew while the command ran (many files,
   * each under the per-file cap). One more round trip; a workspace already over it does not fail later commands.
   */
  private async grewPastQuota(usageBefore: number | undefined): Promise<boolean> {
    let outcome: E2BCommandOutcome;
    try {
      outcome = await this.exec(`du -s -x --block-size=1 -- ${quote(this.workdir)} 2>/dev/null | cut -f1`);
    } catch {
      return false;
    }
    const usage = Number(outcome.stdout.trim());
    return Number.isFinite(usage) && usage > this.settings.limits.diskMb * 2 ** 20 && usage > (usageBefore ?? 0);
  }

  /** How this sandbox's limits are held: rlimits inside the VM, bounded by the template's size. */
  get enforcedLimits(): EnforcedLimits {
    return e2bEnforcedLimits(this.settings.limits);
  }

  async run(command: string, options: RunOptions = {}): Promise<CommandResult> {
    this.assertUsable('running a command');
    if (typeof command !== 'string' || command.trim() === '') throw new DeepAgentError('invalid_input', 'the command is empty');
    if (options.signal?.aborted) throw new DeepAgentError('cancelled', 'the command was cancelled');
    checkedEnv(options.env);
    const target = await this.resolvePath(options.cwd, 'run_command', true);
    if (target.kind !== 'dir') throw new DeepAgentError('invalid_input', `cwd ${options.cwd} is not a directory in the workspace`);
    const cwd = target.path;
    const limited = `${this.ulimits(target.usageBytes)}\n${command}`;
    const grant = await this.acquireNetwork(options.network);
    let releaseLater = false;
    try {
      if (options.background) {
        const result = await this.runBackground(limited, cwd, options, grant);
        releaseLater = Boolean(grant);
        return result;
      }
      const result = await this.runForeground(limited, cwd, options);
      const limit = hitFileSizeLimit(result)
        ? 'diskMb'
        : hitDataLimit(result)
          ? 'memoryMb'
          : hitProcessLimit(result)
            ? 'pids'
            : (await this.grewPastQuota(target.usageBytes))
              ? 'diskMb'
              : undefined;
      if (limit) throw limitExceeded(limit, this.settings.limits, result);
      return result;
    } finally {
      if (!releaseLater) await this.releaseNetwork(grant);
    }
  }

  private async runBackground(command: string, cwd: string, options: RunOptions, grant: Egress | undefined): Promise<CommandResult> {
    const started = Date.now();
    const logDir = posix.join(this.workdir, BACKGROUND_LOG_DIR);
    // `$$` is the shell E2B started, whose pid is the handle's pid: the log is `<dir>/<backgroundId>.log`.
    const script = `mkdir -p ${quote(logDir)} || exit 1\nexec > ${quote(logDir)}/$$.log 2>&1\n${command}`;
    let handle: E2BCommandHandle;
    try {
      // timeoutMs 0: E2B's command deadline is off; the process lives until it ends, our timer fires, or the sandbox goes.
      handle = await this.instance.commands.run(script, { background: true, cwd, envs: options.env, timeoutMs: 0 });
    } catch (e) {
      throw this.fail(e, 'run_command');
    }
    const ended = handle.wait().then(
      () => undefined,
      () => undefined,
    );
    if (grant) void ended.then(() => this.releaseNetwork(grant));
    if (options.timeoutMs !== undefined) {
      const timer = setTimeout(() => void this.killTree(handle), options.timeoutMs);
      timer.unref?.();
      void ended.then(() => clearTimeout(timer));
    }
    const onAbort = () => void this.killTree(handle);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // The signal may have aborted while the command was being started (its listener missed that).
    if (options.signal?.aborted) onAbort();
    void ended.then(() => options.signal?.removeEventListener('abort', onAbort));
    return {
      stdout: '',
      stderr: '',
      exitCode: null,
      timedOut: false,
      truncated: false,
      durationMs: Date.now() - started,
      backgroundId: String(handle.pid),
    };
  }

  private async runForeground(command: string, cwd: string, options: RunOptions): Promise<CommandResult> {
    const started = Date.now();
    const timeoutMs = options.timeoutMs ?? this.settings.defaultCommandTimeoutMs;
    const out = new CappedOutput(this.settings.outputCapBytes, options.onStdout);
    const err = new CappedOutput(this.settings.outputCapBytes, options.onStderr);
    let handle: E2BCommandHandle;
    try {
      handle = await this.instance.commands.run(command, {
        background: true,
        cwd,
        envs: options.env,
        // E2B's own deadline is only a backstop: ours below kills the whole process tree first.
        timeoutMs: timeoutMs + 30_000,
        onStdout: (d) => void out.push(d),
        onStderr: (d) => void err.push(d),
      });
    } catch (e) {
      throw this.fail(e, 'run_command');
    }
    let timedOut = false;
    let cancelled = false;
    let killing: Promise<void> | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killing ??= this.killTree(handle);
    }, timeoutMs);
    const onAbort = () => {
      cancelled = true;
      killing ??= this.killTree(handle);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // The signal may have aborted while the command was being started (its listener missed that).
    if (options.signal?.aborted) onAbort();
    let outcome: E2BCommandOutcome | undefined;
    try {
      outcome = await handle.wait();
    } catch (e) {
      if (e2bErrorName(e) === 'CommandExitError') outcome = e as E2BCommandOutcome;
      else if (e2bErrorName(e) === 'TimeoutError' && !this.closed) timedOut = true;
      else if (!timedOut && !cancelled) throw this.fail(e, 'run_command');
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
    if (killing) await killing;
    if (cancelled) throw new DeepAgentError('cancelled', 'the command was cancelled; its processes were killed.');
    // Output that was not streamed (E2B delivers it with the outcome only) is capped the same way.
    if (!out.seen && outcome?.stdout) out.push(outcome.stdout);
    if (!err.seen && outcome?.stderr) err.push(outcome.stderr);
    return {
      stdout: out.text(),
      stderr: err.text(),
      exitCode: timedOut ? null : (outcome?.exitCode ?? null),
      timedOut,
      truncated: out.truncated || err.truncated,
      durationMs: Date.now() - started,
    };
  }

  /**
   * Starts `spec` as a background command with stdin kept open and returns its stdio as a channel: stdout and
   * stderr chunks in order (E2B streams them), writes through `commands.sendStdin` one after another, `close`
   * kills the process tree. `cwd` is workspace-relative; `network: true` turns the sandbox's internet on for as
   * long as the process runs (see `NetworkPolicy`).
   *
   * @example
   * const channel = await sandbox.openStdio({ command: 'node', args: ['src/index.ts'], cwd: 'mcp-servers/calc' });
   */
  async openStdio(spec: SpawnSpec): Promise<StdioChannel> {
    this.assertUsable('starting a process');
    if (typeof spec.command !== 'string' || spec.command === '') throw new DeepAgentError('invalid_input', 'the command is empty');
    checkedEnv(spec.env);
    const target = await this.resolvePath(spec.cwd, 'open_stdio');
    if (target.kind !== 'dir') throw new DeepAgentError('invalid_input', `cwd ${spec.cwd} is not a directory in the workspace`);
    const grant = await this.acquireNetwork(spec.network);
    const events = new StdioChannelEvents();
    let handle: E2BCommandHandle;
    try {
      // `exec`: the pid E2B reports is the server's own, so stdin reaches it and a kill ends it.
      handle = await this.instance.commands.run(`${this.ulimits()}\nexec ${[spec.command, ...spec.args].map(quote).join(' ')}`, {
        background: true,
        stdin: true,
        cwd: target.path,
        ...(spec.env ? { envs: spec.env } : {}),
        timeoutMs: 0,
        onStdout: (d) => events.data(d),
        onStderr: (d) => events.stderr(d),
      });
    } catch (e) {
      await this.releaseNetwork(grant);
      throw this.fail(e, 'open_stdio');
    }
    void handle.wait().then(
      (o) => o.exitCode,
      (e: unknown) => {
        const code = e2bErrorName(e) === 'CommandExitError' ? (e as E2BCommandOutcome).exitCode : -1;
        return code >= 0 ? code : null;
      },
    ).then(async (code) => {
      events.exit(code);
      await this.releaseNetwork(grant);
    });
    let writes: Promise<void> = Promise.resolve();
    return {
      pid: handle.pid,
      ...events.listeners(),
      write: (data) => {
        const next = writes.then(async () => {
          if (events.exited) throw new DeepAgentError('sandbox_error', `the process ${spec.command} has ended`);
          try {
            await this.instance.commands.sendStdin(handle.pid, data);
          } catch (e) {
            throw this.fail(e, 'write to process');
          }
        });
        writes = next.catch(() => {});
        return next;
      },
      close: async () => {
        if (events.exited) return;
        await this.killTree(handle);
      },
    };
  }

  async readFileBytes(path: string): Promise<Uint8Array> {
    this.assertUsable('reading a file');
    const target = await this.resolvePath(path, 'read_file');
    if (target.kind === 'missing') throw new DeepAgentError('not_found', `${path} does not exist in the workspace`, { path });
    if (target.kind === 'dir') throw new DeepAgentError('invalid_input', `${path} is a directory, not a file`, { path });
    try {
      return await this.instance.files.read(target.path, { format: 'bytes' });
    } catch (e) {
      throw this.fail(e, 'read_file', path);
    }
  }

  async readFile(path: string): Promise<string> {
    return new TextDecoder().decode(await this.readFileBytes(path));
  }

  async writeFile(path: string, content: string | Uint8Array): Promise<void> {
    this.assertUsable('writing a file');
    const target = await this.resolvePath(path, 'write_file');
    if (target.kind === 'dir') throw new DeepAgentError('invalid_input', `${path} is a directory, not a file`, { path });
    const data =
      typeof content === 'string' ? content : (content.buffer.slice(content.byteOffset, content.byteOffset + content.byteLength) as ArrayBuffer);
    try {
      // E2B creates missing parent directories.
      await this.instance.files.write(target.path, data);
    } catch (e) {
      throw this.fail(e, 'write_file', path);
    }
  }

  /**
   * Lists files under `path` (default the workspace) recursively, as the local sandbox does: paths relative
   * to the workspace, sorted; symlinks listed, not followed; `node_modules` and `.git` listed but not entered;
   * at most `maxListEntries` entries.
   */
  async listFiles(path?: string): Promise<FileEntry[]> {
    this.assertUsable('listing files');
    const shown = path ?? '.';
    const target = await this.resolvePath(path, 'list_files');
    if (target.kind !== 'dir') throw new DeepAgentError('not_found', `${shown} does not exist in the workspace`, { path: shown });
    let listing: E2BCommandOutcome;
    try {
      listing = await this.exec(
        `find ${quote(target.path)} -mindepth 1 -printf '%y\\t%s\\t%p\\0' \\( -name node_modules -o -name .git \\) -type d -prune | head -z -n ${this.settings.maxListEntries}`,
        60_000,
      );
    } catch (e) {
      throw this.fail(e, 'list_files', shown);
    }
    const entries: FileEntry[] = [];
    for (const record of listing.stdout.split('\0')) {
      const [y, size, abs] = record.split('\t');
      if (!y || abs === undefined) continue;
      const type = y === 'l' ? 'symlink' : y === 'd' ? 'dir' : 'file';
      entries.push({ path: posix.relative(this.workdir, abs), type, size: type === 'file' ? Number(size) : 0 });
    }
    return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async info(): Promise<E2BSandboxInfo> {
    this.assertUsable('reading sandbox info');
    let details;
    try {
      details = await this.instance.getInfo();
    } catch (e) {
      throw this.fail(e, 'sandbox_info');
    }
    const networkOn = this.settings.networkPolicy === 'always-on' || this.grants.length > 0 || this.networkUnknown;
    return {
      id: this.id,
      provider: 'e2b',
      workdir: this.workdir,
      resources: { cpus: details.cpuCount, memoryMb: details.memoryMB },
      timeLeftSeconds: Math.max(0, Math.round((details.endAt.getTime() - Date.now()) / 1000)),
      limits: this.enforcedLimits,
      network: networkOn ? 'on' : 'off-by-default',
      template: details.templateId ?? this.template,
      state: details.state,
      networkPolicy: NETWORK_POLICY_TEXT[this.settings.networkPolicy],
      lifetimeLeftSeconds: Math.max(0, Math.round(this.keepAlive.remainingLifetimeMs() / 1000)),
      notes: [
        'apt needs root here: use `sudo apt-get install -y <pkg>` (the default user `user` has passwordless sudo) with network=true.',
        'the sandbox timeout is extended while the task runs, up to the plan cap (1 h Hobby, 24 h Pro).',
      ],
    };
  }

  /**
   * Pauses the sandbox (E2B keeps its memory and disk) while the task waits, e.g. for an approval. The
   * keep-alive stops; `resume()` or `provider.connect(id)` brings it back.
   */
  async pause(): Promise<void> {
    this.assertUsable('pausing');
    this.keepAlive.stop();
    try {
      await this.instance.pause();
    } catch (e) {
      this.keepAlive.start();
      throw this.fail(e, 'pause');
    }
    this.paused = true;
  }

  /** Resumes a paused sandbox (E2B resumes on connect) and restarts the keep-alive. */
  async resume(): Promise<void> {
    if (this.closed) throw new DeepAgentError('sandbox_error', `sandbox ${this.id} is closed; it cannot be resumed.`);
    if (!this.paused) return;
    this.instance = await this.settings.reconnect(this.id);
    this.keepAlive = this.settings.keepAlive(this.instance);
    this.keepAlive.start();
    this.paused = false;
  }

  /** Kills the sandbox and every process in it. Idempotent; a sandbox that already expired counts as closed. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.keepAlive.stop();
      try {
        await this.instance.kill();
      } catch (e) {
        const name = e2bErrorName(e);
        if (name === 'SandboxNotFoundError' || name === 'NotFoundError') return;
        throw this.fail(e, 'close');
      }
    })();
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
