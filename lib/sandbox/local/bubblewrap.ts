/**
 * The local sandbox on bubblewrap (`bwrap`).
 *
 * Inside, a process sees: the host's `/usr` (and the `/bin`, `/lib*`, `/sbin` links or dirs) and a short list
 * of `/etc` files, all read-only; a fresh `/tmp`, `/dev` and `/proc`; the task's workspace read-write at
 * `/workspace`; a per-task HOME at `/home/user` (host: `<home>/sandbox-homes/<taskId>`, kept across commands
 * of the task, so `pip install --user` or a git config persist); and any `readOnlyMounts`. Not the host's
 * `/root`, `/home`, `/work` or other directories, which hold `.env` files and credentials. The environment is
 * cleared: only PATH, HOME, LANG, TERM and what the caller passes. All capabilities are dropped, in a user,
 * PID, IPC and UTS namespace of its own, and a network namespace of its own (loopback only) always: a call
 * that asks for the network (a host list, or `network: true` for any public host) reaches out only through
 * its egress proxy, never to the host's loopback or internal addresses unless listed literally. Each `run()`
 * is its own bwrap; when its command exits, anything it left running is killed with it (use `background: true`
 * for servers). A background server and a later command never share a network namespace, so the later command
 * cannot reach the server's port.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, existsSync, lstatSync, readlinkSync } from 'node:fs';
import { DeepAgentError } from '../../errors/index.js';
import type { CreateSandboxOptions, Sandbox, SandboxProvider } from '../types.js';
import type { EnforcedLimits } from '../shared/index.js';
import { runProcess, type ProcessSpec } from './process.js';
import {
  DEFAULT_SANDBOX_PATH,
  LocalSandbox,
  loadEgressProxy,
  limitsFrom,
  prepareLocalWorkspace,
  enforcedLocalLimits,
  resourceControlFor,
  type CommandLauncher,
  type LaunchRequest,
  type LocalSandboxProviderOptions,
} from './sandbox.js';
import { checkMaskedCredential, checkedEnv, hostPatterns } from '../shared/index.js';
import { EGRESS_SOCKET_DIR, EGRESS_TRUST_BUNDLE_FILE, egressForwarderArgv, egressProxyEnv, egressTrustEnv, type MaskedCredential } from './egress-launch.js';

/** Where the forwarder's socat may be (the sandbox sees the host's /usr and its /bin link or dir). */
const SOCAT_PATHS = ['/usr/bin/socat', '/usr/local/bin/socat', '/bin/socat'];

/** System CA bundles that programs read by default (Debian/Ubuntu, Fedora/RHEL); each present one is covered. */
const SYSTEM_CA_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

/** Covers the system bundles with the interception CA plus this host's roots. */
function trustMounts(socketDir: string): string[] {
  return SYSTEM_CA_BUNDLES.filter((path) => existsSync(path)).flatMap((path) => ['--ro-bind', `${socketDir}/${EGRESS_TRUST_BUNDLE_FILE}`, path]);
}

/** A host path mounted read-only into the sandbox. */
export interface ReadOnlyMount {
  hostPath: string;
  sandboxPath: string;
}

export interface BubblewrapSandboxProviderOptions extends LocalSandboxProviderOptions {
  /** Extra read-only mounts, e.g. a project's node_modules or the Node binary's directory. */
  readOnlyMounts?: ReadOnlyMount[];
  /** The bwrap executable. @default 'bwrap' (looked up on PATH) */
  bwrapPath?: string;
}

export const BWRAP_MISSING_MESSAGE =
  "bubblewrap (bwrap) is not installed; it isolates the agent's commands. Install it (apt-get install bubblewrap) or set DEEP_AGENT_SANDBOX=unsafe-local to run commands unisolated on this machine.";

const SANDBOX_WORKDIR = '/workspace';
const SANDBOX_HOME = '/home/user';

/** /etc entries programs need (users, name resolution, TLS roots, the dynamic linker, Debian alternatives). */
const ETC_ENTRIES = [
  'passwd', 'group', 'hosts', 'nsswitch.conf', 'host.conf', 'gai.conf', 'protocols', 'services', 'networks',
  'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'localtime', 'timezone', 'alternatives', 'ssl', 'ca-certificates',
  'ca-certificates.conf', 'os-release', 'debian_version', 'mime.types', 'magic', 'inputrc', 'profile', 'bash.bashrc',
  'perl', 'locale.alias', 'fonts',
];
/** /etc entries matched by prefix (interpreter configuration such as `python3.11`, `java-17-openjdk`). */
const ETC_PREFIXES = ['python3', 'java-'];

/**
 * Sandboxes on bubblewrap: one workspace per task, host system read-only, no network unless asked.
 *
 * @example
 * const provider = new BubblewrapSandboxProvider({ home: config.home });
 * await using sandbox = await provider.create({ taskId: 't1' });
 * await sandbox.run('npm test', { timeoutMs: 60_000 });
 */
export class BubblewrapSandboxProvider implements SandboxProvider {
  readonly name = 'local' as const;
  private probe?: Promise<void>;
  private limitsProbe?: Promise<EnforcedLimits>;

  constructor(private readonly options: BubblewrapSandboxProviderOptions) {}

  async create(options: CreateSandboxOptions): Promise<Sandbox> {
    checkedEnv(options.env);
    const masked = maskedCredentialsOf([...(this.options.maskedCredentials ?? []), ...(options.maskedCredentials ?? [])]);
    const { hostRoot, hostHome } = await prepareLocalWorkspace(this.options.home, options.taskId);
    const launcher = new BubblewrapLauncher(this.options.bwrapPath ?? 'bwrap', hostRoot, hostHome, this.options.readOnlyMounts ?? []);
    this.probe ??= probeBubblewrap(launcher, hostRoot);
    try {
      await this.probe;
    } catch (e) {
      this.probe = undefined;
      throw e;
    }
    await loadEgressProxy();
    return new LocalSandbox({
      id: `local-${options.taskId}`,
      provider: 'local',
      workdir: SANDBOX_WORKDIR,
      hostRoot,
      home: SANDBOX_HOME,
      hostHome,
      launcher,
      limits: limitsFrom(this.options),
      control: await resourceControlFor(this.options, hostRoot, hostHome),
      shell: existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh',
      baseEnv: {
        PATH: this.options.path ?? DEFAULT_SANDBOX_PATH,
        HOME: SANDBOX_HOME,
        LANG: 'C.UTF-8',
        TERM: 'dumb',
        ...checkedEnv(options.env),
        ...Object.fromEntries(masked.map((c) => [c.name, c.sentinel])),
      },
      ...(masked.length ? { maskedCredentials: masked } : {}),
      removeWorkspace: this.options.removeWorkspace ?? false,
      ...taskNetworkOf(options, this.options),
      ...(this.options.hostOverrides ? { hostOverrides: this.options.hostOverrides } : {}),
    });
  }

  /** How memory, process and disk limits are held on this host (cgroups, rlimits, or not at all). */
  enforcedLimits(): Promise<EnforcedLimits> {
    this.limitsProbe ??= enforcedLocalLimits(this.options);
    return this.limitsProbe;
  }

  /** The workspace lives on disk, so reattaching after a restart is creating again for the same task. */
  connect(sandboxId: string, options: CreateSandboxOptions): Promise<Sandbox> {
    if (sandboxId !== `local-${options.taskId}`) {
      throw new DeepAgentError('not_found', `sandbox ${sandboxId} does not belong to task ${options.taskId}`);
    }
    return this.create(options);
  }
}

/** Each credential with a fresh sentinel (per sandbox), its hosts checked. */
function maskedCredentialsOf(list: LocalSandboxProviderOptions['maskedCredentials']): MaskedCredential[] {
  return (list ?? []).map((c) => ({
    name: c.name,
    value: c.value,
    hosts: checkMaskedCredential(c),
    sentinel: `deep-agent-masked-${c.name.toLowerCase()}-${randomBytes(12).toString('hex')}`,
  }));
}

/** The task's allowlist, else the provider's default (`DEEP_AGENT_NETWORK_ALLOW`), checked. */
export function taskNetworkOf(options: CreateSandboxOptions, provider: LocalSandboxProviderOptions): { taskNetwork?: { allow: string[] } } {
  const allow = options.network?.allow ?? provider.networkAllow;
  return allow ? { taskNetwork: { allow: hostPatterns(allow, 'network.allow') } } : {};
}

/** Builds bwrap command lines for one workspace. */
class BubblewrapLauncher implements CommandLauncher {
  readonly network = 'off-by-default' as const;
  private readonly fixedArgs: string[];

  constructor(
    private readonly bwrapPath: string,
    hostRoot: string,
    hostHome: string,
    readOnlyMounts: ReadOnlyMount[],
  ) {
    this.fixedArgs = [
      '--die-with-parent',
      '--new-session',
      '--unshare-user',
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--unshare-cgroup-try',
      '--cap-drop', 'ALL',
      '--hostname', 'sandbox',
      ...systemMounts(),
      '--proc', '/proc',
      '--dev', '/dev',
      '--tmpfs', '/tmp',
      '--bind', hostRoot, SANDBOX_WORKDIR,
      '--bind', hostHome, SANDBOX_HOME,
      ...readOnlyMounts.flatMap((m) => ['--ro-bind', m.hostPath, m.sandboxPath]),
    ];
  }

  launch(request: LaunchRequest): ProcessSpec {
    if (request.egress && !SOCAT_PATHS.some((path) => existsSync(path))) {
      throw new DeepAgentError('sandbox_unavailable', 'network needs socat in the sandbox (it bridges the egress proxy): install it (apt-get install socat)');
    }
    // Network asked for: a network namespace of its own whose one way out is the egress proxy's socket (mounted,
    // bridged to 127.0.0.1:3128 by the forwarder); no resolv.conf, since the proxy resolves names.
    const network = request.egress
      ? ['--unshare-net', '--bind', request.egress.socketDir, EGRESS_SOCKET_DIR, ...(request.egress.trust ? trustMounts(request.egress.socketDir) : [])]
      : request.network
        ? ['--share-net', '--ro-bind-try', '/etc/resolv.conf', '/etc/resolv.conf']
        : ['--unshare-net'];
    const argv = request.egress ? egressForwarderArgv(request.argv) : request.argv;
    const env = request.egress ? { ...request.env, ...egressProxyEnv(), ...(request.egress.trust ? egressTrustEnv() : {}) } : { ...request.env };
    // The sandbox's environment is bwrap's own, which the child inherits: values never go on bwrap's command
    // line, where any local user could read them in /proc/<pid>/cmdline. Variables that a spawner (the MCP
    // SDK's stdio transport) adds from the host are dropped unless the caller asked for them.
    const unset = HOST_DEFAULTS_ADDED_BY_SPAWNERS.filter((k) => !(k in request.env)).flatMap((k) => ['--unsetenv', k]);
    return {
      command: this.bwrapPath,
      // The root (bwrap's own tmpfs holding /etc, /home, the mount points) is made read-only last.
      args: [...this.fixedArgs, ...network, '--remount-ro', '/', ...unset, '--chdir', request.sandboxCwd, '--', ...argv],
      env,
      cwd: '/',
    };
  }
}

/** What `StdioClientTransport` merges into every child's environment from the host. */
const HOST_DEFAULTS_ADDED_BY_SPAWNERS = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER'];

/** Read-only binds of the host system: /usr, the top-level links into it (or dirs), and chosen /etc entries. */
function systemMounts(): string[] {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const dir of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
    else if (st.isDirectory()) args.push('--ro-bind', dir, dir);
  }
  let etc: string[] = [];
  try {
    etc = readdirSync('/etc');
  } catch {
    etc = [];
  }
  for (const name of etc) {
    if (ETC_ENTRIES.includes(name) || ETC_PREFIXES.some((p) => name.startsWith(p))) args.push('--ro-bind-try', `/etc/${name}`, `/etc/${name}`);
  }
  return args;
}

/** Runs `true` in a sandbox once, turning a missing or unusable bwrap into one clear line. */
async function probeBubblewrap(launcher: BubblewrapLauncher, hostRoot: string): Promise<void> {
  const spec = launcher.launch({ argv: ['true'], hostCwd: hostRoot, sandboxCwd: SANDBOX_WORKDIR, env: { PATH: DEFAULT_SANDBOX_PATH }, network: false });
  let result;
  try {
    result = await runProcess(spec, { timeoutMs: 15_000, maxOutputBytes: 4096, live: new Set() });
  } catch (e) {
    const errno = (e as DeepAgentError).data?.errno;
    if (errno === 'ENOENT' || errno === 'EACCES') throw new DeepAgentError('sandbox_unavailable', BWRAP_MISSING_MESSAGE);
    throw e;
  }
  if (result.exitCode !== 0) {
    const why = result.stderr.trim().split('\n')[0] || (result.timedOut ? 'timed out' : `exit code ${result.exitCode}`);
    throw new DeepAgentError(
      'sandbox_unavailable',
      `bubblewrap (bwrap) cannot create a sandbox here (${why}); allow unprivileged user namespaces, or set DEEP_AGENT_SANDBOX=unsafe-local to run commands unisolated on this machine.`,
    );
  }
}
