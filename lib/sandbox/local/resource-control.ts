/**
 * Resource limits of a local sandbox, held with what this host offers:
 * - memory and processes: a cgroup per sandbox (v1 `memory` + `pids`, or v2 `memory.max` + `pids.max`) when
 *   this process may create one (root, or a delegated v2 tree); without one, memory falls back to RLIMIT_DATA
 *   per process and processes are not limited (RLIMIT_NPROC counts every process of the user, not the sandbox's).
 * - disk: RLIMIT_FSIZE set to what is left of the quota (a file cannot grow past it), plus a size check of the
 *   workspace and the sandbox's HOME while a command runs and after it (many smaller files are caught within
 *   a second, a little past the quota).
 * Every process of the sandbox joins its cgroup before it execs (a small `sh` wrapper on the host), so the
 * limits hold for background processes and stdio servers too.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmdirSync } from 'node:fs';
import { mkdir, readFile, readdir, rmdir, stat, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { EnforcedLimits, ResourceLimits, ResourceName } from '../shared/index.js';
import type { ProcessSpec } from './process.js';

const run = promisify(execFile);

/** Where cgroup v1 controllers and the v2 tree are mounted. */
const CGROUP_ROOT = '/sys/fs/cgroup';
const GROUP_PREFIX = 'deep-agent-';

/** Counters that grow when a limit is hit. */
export interface LimitCounters {
  oomKills: number;
  pidsMaxHits: number;
}

/** How a cgroup kind is laid out on this host. */
interface CgroupLayout {
  kind: 'v1' | 'v2';
  /** directories under which a sandbox's group is created: v1 memory and pids, or the v2 root */
  parents: string[];
}

let layoutProbe: CgroupLayout | null | undefined;

/** Groups this process created and has not removed: removed at exit if a sandbox was never closed. */
const openGroups = new Set<string>();
let exitHook = false;

function trackGroups(dirs: string[]): void {
  for (const d of dirs) openGroups.add(d);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const d of openGroups) {
      try {
        rmdirSync(d);
      } catch {
        // still has processes, or gone already
      }
    }
  });
}

/** An empty group of ours older than this is left over from a process that died; it is removed. */
const STALE_GROUP_MS = 24 * 3600 * 1000;

/** Removes empty `deep-agent-*` groups left by processes that died before closing their sandboxes. */
async function sweepStaleGroups(layout: CgroupLayout): Promise<void> {
  for (const parent of layout.parents) {
    const names = await readdir(parent).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.startsWith(GROUP_PREFIX))) {
      const dir = `${parent}/${name}`;
      const old = await stat(dir).then((st) => Date.now() - st.mtimeMs > STALE_GROUP_MS, () => false);
      const empty = (await readFile(`${dir}/cgroup.procs`, 'utf8').catch(() => 'x')).trim() === '';
      if (old && empty) await rmdir(dir).catch(() => undefined);
    }
  }
}

let swept = false;

/** Finds a cgroup layout this process can create groups in (checked once per process). */
export function detectCgroups(): CgroupLayout | null {
  if (layoutProbe !== undefined) return layoutProbe;
  layoutProbe = null;
  try {
    const v2Controllers = existsSync(`${CGROUP_ROOT}/cgroup.subtree_control`) ? readFileSync(`${CGROUP_ROOT}/cgroup.subtree_control`, 'utf8') : '';
    if (/\bmemory\b/.test(v2Controllers) && /\bpids\b/.test(v2Controllers)) {
      layoutProbe = { kind: 'v2', parents: [CGROUP_ROOT] };
    } else if (existsSync(`${CGROUP_ROOT}/memory/cgroup.procs`) && existsSync(`${CGROUP_ROOT}/pids/cgroup.procs`)) {
      layoutProbe = { kind: 'v1', parents: [`${CGROUP_ROOT}/memory`, `${CGROUP_ROOT}/pids`] };
    }
  } catch {
    layoutProbe = null;
  }
  return layoutProbe;
}

/** True when `prlimit` (util-linux) is on PATH, so rlimits can be set on a child. */
function findPrlimit(): string | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) if (existsSync(`${dir}/prlimit`)) return `${dir}/prlimit`;
  return undefined;
}

export interface ResourceControlOptions {
  limits: ResourceLimits;
  /** Host directories whose size counts against the disk quota (the workspace and the sandbox's HOME). */
  diskPaths: string[];
  /** Use cgroups when the host offers them. @default true */
  cgroups?: boolean;
}

/**
 * The limits of one local sandbox. Create with `ResourceControl.create`, wrap every process with `wrap`,
 * compare `counters()` around a command, and `close()` when the sandbox closes.
 *
 * @example
 * const control = await ResourceControl.create({ limits, diskPaths: [hostRoot, hostHome] });
 * const spec = control.wrap(launcher.launch(request), await control.remainingDiskBytes());
 */
export class ResourceControl {
  private constructor(
    readonly limits: ResourceLimits,
    private readonly diskPaths: string[],
    private readonly groups: { layout: CgroupLayout; dirs: string[] } | undefined,
    private readonly prlimit: string | undefined,
  ) {}

  static async create(options: ResourceControlOptions): Promise<ResourceControl> {
    const layout = options.cgroups === false ? null : detectCgroups();
    let groups: { layout: CgroupLayout; dirs: string[] } | undefined;
    if (layout) {
      if (!swept) {
        swept = true;
        await sweepStaleGroups(layout);
      }
      const name = `${GROUP_PREFIX}${randomUUID().slice(0, 12)}`;
      const dirs = layout.parents.map((p) => `${p}/${name}`);
      try {
        for (const d of dirs) await mkdir(d);
        await writeLimits(layout, dirs, options.limits);
        groups = { layout, dirs };
        trackGroups(dirs);
      } catch {
        // Not ours to create here (no permission, no delegation): fall back to rlimits.
        for (const d of dirs) await rmdir(d).catch(() => undefined);
        groups = undefined;
      }
    }
    return new ResourceControl(options.limits, options.diskPaths, groups, findPrlimit());
  }

  /** How each limit is held here, for `sandbox_info` and `task.started`. */
  enforced(): EnforcedLimits {
    const cg = this.groups ? `cgroup ${this.groups.layout.kind}` : undefined;
    return {
      memoryMb: { value: this.limits.memoryMb, by: cg ?? (this.prlimit ? 'rlimit (RLIMIT_DATA, per process)' : 'none') },
      pids: { value: this.limits.pids, by: cg ?? 'none' },
      diskMb: { value: this.limits.diskMb, by: this.prlimit ? 'rlimit (RLIMIT_FSIZE) + workspace size check' : 'workspace size check' },
    };
  }

  /** Bytes left under the disk quota now (0 when it is used up). */
  async remainingDiskBytes(): Promise<number> {
    return Math.max(0, this.limits.diskMb * 2 ** 20 - (await this.diskUsageBytes()));
  }

  /** Bytes the workspace and HOME take on disk (allocated blocks, so sparse files count as what they use). */
  async diskUsageBytes(): Promise<number> {
    try {
      const { stdout } = await run('du', ['-s', '-x', '--block-size=1', ...this.diskPaths], { maxBuffer: 1 << 20 });
      return stdout.split('\n').reduce((sum, line) => sum + (Number(line.split('\t')[0]) || 0), 0);
    } catch (e) {
      // du exits non-zero when a file vanished while it counted; its output still holds the totals.
      const stdout = (e as { stdout?: string }).stdout ?? '';
      return stdout.split('\n').reduce((sum, line) => sum + (Number(line.split('\t')[0]) || 0), 0);
    }
  }

  /**
   * The host command line that runs `spec` inside this sandbox's limits: it joins the cgroups, then execs
   * `prlimit` with the rlimits, then the command. `fileSizeBytes` caps any one file (what is left of the quota).
   */
  wrap(spec: ProcessSpec, fileSizeBytes: number): ProcessSpec {
    let argv = [spec.command, ...spec.args];
    if (this.prlimit) {
      const rlimits = [`--fsize=${fileSizeBytes}:${fileSizeBytes}`];
      if (!this.groups) {
        const bytes = this.limits.memoryMb * 2 ** 20;
        rlimits.push(`--data=${bytes}:${bytes}`);
      }
      argv = [this.prlimit, ...rlimits, '--', ...argv];
    }
    if (this.groups) {
      // `$$` is the shell, which then execs the command: it and all its descendants are in the groups.
      const script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';
      argv = ['/bin/sh', '-c', script, 'sh', ...this.groups.dirs.map((d) => `${d}/cgroup.procs`), '--', ...argv];
    }
    const [command, ...args] = argv;
    return { ...spec, command: command!, args };
  }

  /** The cgroup counters that grow when memory or processes run out (zero without cgroups). */
  async counters(): Promise<LimitCounters> {
    if (!this.groups) return { oomKills: 0, pidsMaxHits: 0 };
    const [memDir, pidsDir] = this.groups.layout.kind === 'v1' ? this.groups.dirs : [this.groups.dirs[0], this.groups.dirs[0]];
    const memEvents = await readFile(`${memDir}/${this.groups.layout.kind === 'v1' ? 'memory.oom_control' : 'memory.events'}`, 'utf8').catch(() => '');
    const pidsEvents = await readFile(`${pidsDir}/pids.events`, 'utf8').catch(() => '');
    return { oomKills: counter(memEvents, 'oom_kill'), pidsMaxHits: counter(pidsEvents, 'max') };
  }

  /** Which limit was hit between two counter readings, if any. */
  static hit(before: LimitCounters, after: LimitCounters): ResourceName | undefined {
    if (after.oomKills > before.oomKills) return 'memoryMb';
    if (after.pidsMaxHits > before.pidsMaxHits) return 'pids';
    return undefined;
  }

  /** Kills whatever is left in the sandbox's groups and removes them. */
  async close(): Promise<void> {
    if (!this.groups) return;
    for (let attempt = 0; attempt < 20; attempt++) {
      const pids = new Set<number>();
      for (const d of this.groups.dirs) {
        const text = await readFile(`${d}/cgroup.procs`, 'utf8').catch(() => '');
        for (const p of text.split('\n')) if (p) pids.add(Number(p));
      }
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      const removed = await Promise.all(this.groups.dirs.map((d) => rmdir(d).then(() => true, (e: NodeJS.ErrnoException) => e.code === 'ENOENT')));
      if (removed.every(Boolean)) {
        for (const d of this.groups.dirs) openGroups.delete(d);
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function writeLimits(layout: CgroupLayout, dirs: string[], limits: ResourceLimits): Promise<void> {
  const memoryBytes = String(limits.memoryMb * 2 ** 20);
  if (layout.kind === 'v1') {
    const [mem, pids] = dirs as [string, string];
    await writeFile(`${mem}/memory.limit_in_bytes`, memoryBytes);
    // With swap, the limit must cover it too, or a command swaps instead of stopping.
    if (existsSync(`${mem}/memory.memsw.limit_in_bytes`)) await writeFile(`${mem}/memory.memsw.limit_in_bytes`, memoryBytes).catch(() => undefined);
    await writeFile(`${pids}/pids.max`, String(limits.pids));
  } else {
    const [dir] = dirs as [string];
    await writeFile(`${dir}/memory.max`, memoryBytes);
    await writeFile(`${dir}/memory.swap.max`, '0').catch(() => undefined);
    await writeFile(`${dir}/pids.max`, String(limits.pids));
  }
}

/** Reads `name N` from a cgroup key-value file. */
function counter(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}
