/**
 * The `unsafe-local` sandbox: the same interface and the same workspace confinement for file operations as
 * bubblewrap, but commands run directly on this machine with their cwd in the workspace. Nothing isolates
 * them: they see the whole file system and the network (`network: false` is not enforced, and `info()`
 * reports the network as on). The environment is still cleared to PATH, HOME, LANG, TERM and what the caller
 * passes, and timeouts still kill the command's process group. Only for machines without bubblewrap, chosen
 * explicitly with `DEEP_AGENT_SANDBOX=unsafe-local`.
 */
import { existsSync } from 'node:fs';
import type { CreateSandboxOptions, Sandbox, SandboxProvider } from '../types.js';
import type { EnforcedLimits } from '../shared/index.js';
import type { ProcessSpec } from './process.js';
import {
  DEFAULT_SANDBOX_PATH,
  LocalSandbox,
  limitsFrom,
  prepareLocalWorkspace,
  enforcedLocalLimits,
  resourceControlFor,
  type CommandLauncher,
  type LaunchRequest,
  type LocalSandboxProviderOptions,
} from './sandbox.js';
import { checkedEnv } from '../shared/index.js';

export type UnsafeLocalSandboxProviderOptions = LocalSandboxProviderOptions;

/**
 * Unisolated local sandboxes: a workspace per task, commands run directly on the host.
 *
 * @example
 * const provider = new UnsafeLocalSandboxProvider({ home: config.home });
 * await using sandbox = await provider.create({ taskId: 't1' });
 */
export class UnsafeLocalSandboxProvider implements SandboxProvider {
  readonly name = 'unsafe-local' as const;
  private limitsProbe?: Promise<EnforcedLimits>;

  constructor(private readonly options: UnsafeLocalSandboxProviderOptions) {}

  async create(options: CreateSandboxOptions): Promise<Sandbox> {
    checkedEnv(options.env);
    const { hostRoot, hostHome } = await prepareLocalWorkspace(this.options.home, options.taskId);
    return new LocalSandbox({
      id: `unsafe-local-${options.taskId}`,
      provider: 'unsafe-local',
      // Commands see host paths here, so the workspace is named by its host path.
      workdir: hostRoot,
      hostRoot,
      home: hostHome,
      hostHome,
      launcher: directLauncher,
      limits: limitsFrom(this.options),
      control: await resourceControlFor(this.options, hostRoot, hostHome),
      shell: existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh',
      baseEnv: { PATH: this.options.path ?? DEFAULT_SANDBOX_PATH, HOME: hostHome, LANG: 'C.UTF-8', TERM: 'dumb', ...checkedEnv(options.env) },
      removeWorkspace: this.options.removeWorkspace ?? false,
    });
  }

  /** How memory, process and disk limits are held on this host (cgroups, rlimits, or not at all). */
  enforcedLimits(): Promise<EnforcedLimits> {
    this.limitsProbe ??= enforcedLocalLimits(this.options);
    return this.limitsProbe;
  }

  connect(_sandboxId: string, options: CreateSandboxOptions): Promise<Sandbox> {
    return this.create(options);
  }
}

const directLauncher: CommandLauncher = {
  network: 'on',
  launch(request: LaunchRequest): ProcessSpec {
    const [command, ...args] = request.argv;
    return { command: command!, args, env: request.env, cwd: request.hostCwd };
  },
};
