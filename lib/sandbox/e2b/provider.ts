/** The E2B `SandboxProvider`: creates, reconnects to, pauses and kills E2B cloud sandboxes. */
import type { Config } from '../../config/index.js';
import { DeepAgentError, MissingConfigError } from '../../errors/index.js';
import { Redactor, redactorFromEnv } from '../../secrets/index.js';
import type { CreateSandboxOptions, SandboxProvider } from '../types.js';
import {
  checkMaskedCredential,
  checkedEnv,
  headerRulesFor,
  hostPatterns,
  maskedCredentialsFrom,
  maskedSentinel,
  resourceLimits,
  sandboxLimitsOf,
  type EnforcedLimits,
  type HeaderRules,
  type MaskedCredentialSpec,
  type ResourceLimits,
} from '../shared/index.js';
import {
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_MAX_LIST_ENTRIES,
  DEFAULT_OUTPUT_CAP_BYTES,
  E2B_WORKDIR,
  E2BSandbox,
  e2bEnforcedLimits,
  type E2BSandboxSettings,
  type NetworkPolicy,
} from './e2b-sandbox.js';
import { type BackoffOptions, mapE2BError, withE2BBackoff } from './errors.js';
import { type KeepAliveOptions, SandboxKeepAlive } from './keep-alive.js';
import { type E2BSandboxInstance, type E2BSdk, loadE2BSdk } from './sdk.js';

/** Plan caps on a sandbox's total lifetime. */
export const E2B_PLAN_MAX_LIFETIME_SECONDS = { hobby: 3600, pro: 86_400 } as const;

export interface E2BProviderOptions {
  /**
   * E2B template name or id.
   * @default E2B's `base` template
   */
  template?: string;
  /**
   * The sandbox's first timeout, before the keep-alive extends it.
   * @default 600 s (a task's own `timeoutSeconds` wins)
   */
  timeoutSeconds?: number;
  /**
   * The plan's cap on a sandbox's lifetime; the keep-alive never extends past it.
   * @default 3600 s (Hobby); 86400 on Pro
   */
  maxLifetimeSeconds?: number;
  /** @default { intervalSeconds: 120, extendBySeconds: 600 } */
  keepAlive?: KeepAliveOptions;
  /** @default 'per-command' (see NetworkPolicy) */
  network?: NetworkPolicy;
  /** @default 256 KiB per stream, as the local provider */
  outputCapBytes?: number;
  /** @default 120 s */
  defaultCommandTimeoutMs?: number;
  /** @default 5000, as the local provider */
  maxListEntries?: number;
  /** @default '/home/user/workspace' */
  workdir?: string;
  /**
   * Memory, processes and workspace disk of one sandbox (held with rlimits inside the VM; the template's size
   * bounds memory and disk in any case).
   * @default { memoryMb: 2048, pids: 512, diskMb: 4096 }
   */
  resourceLimits?: Partial<ResourceLimits>;
  /** Backoff on E2B rate limits for create and connect. @default 5 attempts, 500 ms base, 10 s cap */
  backoff?: BackoffOptions;
  /** The egress allowlist of a task that brings none (`DEEP_AGENT_NETWORK_ALLOW`). @default none */
  networkAllow?: readonly string[];
  /**
   * Credentials the sandbox can use but never read (`DEEP_AGENT_SANDBOX_SECRETS`): inside, each variable holds
   * a sentinel; an E2B network rule injects the real value as a header on HTTPS requests to its hosts.
   */
  maskedCredentials?: readonly MaskedCredentialSpec[];
}

export interface E2BProviderDeps {
  /** The `e2b` SDK, or a test double of it; default: the real package, loaded on first use. */
  sdk?: E2BSdk;
  options?: E2BProviderOptions;
  redactor?: Redactor;
}

/**
 * Sandboxes in E2B's cloud. Same tools and limits as the local provider; survives a durable replay or a
 * Lambda restart through `connect(sandboxId)`.
 *
 * @example
 * const provider = createE2BSandboxProvider(config);
 * const sandbox = await provider.create({ taskId: 'task_1' });
 * try { await sandbox.run('ls'); } finally { await sandbox.close(); }
 */
export class E2BSandboxProvider implements SandboxProvider {
  readonly name = 'e2b' as const;
  private sdkPromise: Promise<E2BSdk> | undefined;
  private readonly redactor: Redactor;
  readonly options: Required<Omit<E2BProviderOptions, 'template' | 'backoff' | 'keepAlive' | 'resourceLimits' | 'networkAllow' | 'maskedCredentials'>> & { resourceLimits: ResourceLimits } &
    Pick<E2BProviderOptions, 'template' | 'backoff' | 'networkAllow' | 'maskedCredentials'> & { keepAlive: Required<KeepAliveOptions> };

  constructor(
    private readonly apiKey: string,
    deps: E2BProviderDeps = {},
  ) {
    if (deps.sdk) this.sdkPromise = Promise.resolve(deps.sdk);
    this.redactor = deps.redactor ?? new Redactor();
    this.redactor.add(apiKey);
    // An E2B error about the rules must not echo a masked value.
    for (const c of deps.options?.maskedCredentials ?? []) this.redactor.add(c.value);
    const o = deps.options ?? {};
    const maxLifetimeSeconds = o.maxLifetimeSeconds ?? E2B_PLAN_MAX_LIFETIME_SECONDS.hobby;
    this.options = {
      template: o.template,
      timeoutSeconds: o.timeoutSeconds ?? 600,
      maxLifetimeSeconds,
      keepAlive: { intervalSeconds: o.keepAlive?.intervalSeconds ?? 120, extendBySeconds: o.keepAlive?.extendBySeconds ?? 600 },
      network: o.network ?? 'per-command',
      outputCapBytes: o.outputCapBytes ?? DEFAULT_OUTPUT_CAP_BYTES,
      defaultCommandTimeoutMs: o.defaultCommandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      maxListEntries: o.maxListEntries ?? DEFAULT_MAX_LIST_ENTRIES,
      workdir: o.workdir ?? E2B_WORKDIR,
      resourceLimits: resourceLimits(o.resourceLimits),
      backoff: o.backoff,
      ...(o.networkAllow ? { networkAllow: o.networkAllow } : {}),
      ...(o.maskedCredentials?.length ? { maskedCredentials: o.maskedCredentials } : {}),
    };
    // Checked once, so a bad host fails at start-up, not at the first task.
    for (const c of o.maskedCredentials ?? []) checkMaskedCredential(c, 'DEEP_AGENT_SANDBOX_SECRETS');
  }

  /** How the resource limits are held in E2B sandboxes (rlimits in the VM, under the template's size). */
  async enforcedLimits(): Promise<EnforcedLimits> {
    return e2bEnforcedLimits(this.options.resourceLimits);
  }

  private sdk(): Promise<E2BSdk> {
    this.sdkPromise ??= loadE2BSdk();
    return this.sdkPromise;
  }

  private firstTimeoutMs(options: CreateSandboxOptions): number {
    return Math.min(options.timeoutSeconds ?? this.options.timeoutSeconds, this.options.maxLifetimeSeconds) * 1000;
  }

  private settings(startedAtMs: number, options: CreateSandboxOptions): E2BSandboxSettings {
    const allow = options.network?.allow ?? this.options.networkAllow;
    const rules = this.headerRules(options);
    return {
      ...(rules ? { headerRules: rules } : {}),
      ...(allow ? { taskNetwork: { allow: hostPatterns(allow, 'network.allow') } } : {}),
      workdir: this.options.workdir,
      limits: this.options.resourceLimits,
      outputCapBytes: this.options.outputCapBytes,
      defaultCommandTimeoutMs: this.options.defaultCommandTimeoutMs,
      maxListEntries: this.options.maxListEntries,
      networkPolicy: this.options.network,
      redactor: this.redactor,
      reconnect: (id) => this.connectInstance(id, this.options.timeoutSeconds * 1000),
      keepAlive: (instance) =>
        new SandboxKeepAlive(instance, startedAtMs, this.options.maxLifetimeSeconds * 1000, this.options.keepAlive),
    };
  }

  /** The header injections of the masked credentials, sent with every network update (an update replaces them). */
  private headerRules(options: CreateSandboxOptions): HeaderRules | undefined {
    const credentials = this.credentialsOf(options);
    return credentials.length ? headerRulesFor(credentials) : undefined;
  }

  /** The provider's masked credentials and the sandbox's own, checked; their values join the redactor. */
  private credentialsOf(options: CreateSandboxOptions): MaskedCredentialSpec[] {
    const own = options.maskedCredentials ?? [];
    for (const c of own) {
      checkMaskedCredential(c);
      this.redactor.add(c.value);
    }
    return [...(this.options.maskedCredentials ?? []), ...own];
  }

  /**
   * Creates a sandbox for a task: template, first timeout, env, metadata `{ taskId, ...metadata }`, internet
   * off unless the network policy is `always-on`, and the workspace directory.
   */
  async create(options: CreateSandboxOptions): Promise<E2BSandbox> {
    const sdk = await this.sdk();
    const rules = this.headerRules(options);
    // Inside, a masked variable holds only its sentinel; the value travels to E2B in the rules, not the env.
    const sentinels = Object.fromEntries(this.credentialsOf(options).map((c) => [c.name, maskedSentinel(c.name)]));
    let instance: E2BSandboxInstance;
    try {
      instance = await withE2BBackoff(
        () =>
          sdk.Sandbox.create({
            apiKey: this.apiKey,
            ...(this.options.template ? { template: this.options.template } : {}),
            timeoutMs: this.firstTimeoutMs(options),
            envs: { ...checkedEnv(options.env), ...sentinels },
            metadata: { ...options.metadata, taskId: options.taskId },
            allowInternetAccess: this.options.network === 'always-on',
            ...(rules ? { network: { rules } } : {}),
          }),
        this.options.backoff,
      );
    } catch (e) {
      throw mapE2BError(e, { operation: 'create', redactor: this.redactor });
    }
    const sandbox = new E2BSandbox(instance, this.settings(Date.now(), options), this.options.template);
    try {
      await instance.files.makeDir(this.options.workdir);
    } catch (e) {
      // A sandbox we cannot prepare must not leak.
      await sandbox.close().catch(() => undefined);
      throw mapE2BError(e, { operation: 'create', sandboxId: instance.sandboxId, redactor: this.redactor });
    }
    return sandbox;
  }

  private async connectInstance(sandboxId: string, timeoutMs: number): Promise<E2BSandboxInstance> {
    const sdk = await this.sdk();
    try {
      return await withE2BBackoff(() => sdk.Sandbox.connect(sandboxId, { apiKey: this.apiKey, timeoutMs }), this.options.backoff);
    } catch (e) {
      throw mapE2BError(e, { operation: 'connect', sandboxId, redactor: this.redactor });
    }
  }

  /**
   * Reattaches to a running or paused sandbox by id (E2B resumes a paused one), after a durable replay or a
   * Lambda restart, instead of creating a second sandbox. Throws `sandbox_error` when it no longer exists.
   */
  async connect(sandboxId: string, options: CreateSandboxOptions): Promise<E2BSandbox> {
    const instance = await this.connectInstance(sandboxId, this.firstTimeoutMs(options));
    let startedAtMs = Date.now();
    try {
      startedAtMs = (await instance.getInfo()).startedAt.getTime();
    } catch {
      // The lifetime cap then counts from now: at worst the keep-alive stops a little late; E2B enforces the cap.
    }
    if (this.options.network === 'per-command') {
      // A run that died mid-command may have left the internet on.
      try {
        const rules = this.headerRules(options);
        await instance.updateNetwork({ allowInternetAccess: false, ...(rules ? { rules } : {}) });
      } catch (e) {
        throw mapE2BError(e, { operation: 'connect', sandboxId, redactor: this.redactor });
      }
    }
    return new E2BSandbox(instance, this.settings(startedAtMs, options), this.options.template);
  }

  /**
   * Pauses a sandbox by id while its task waits (for an approval, say). E2B keeps memory and disk; `connect`
   * resumes it. Returns false when it was already paused.
   *
   * @example
   * await provider.pauseSandbox(record.sandboxId);
   */
  async pauseSandbox(sandboxId: string): Promise<boolean> {
    const sdk = await this.sdk();
    try {
      return await withE2BBackoff(() => sdk.Sandbox.pause(sandboxId, { apiKey: this.apiKey }), this.options.backoff);
    } catch (e) {
      throw mapE2BError(e, { operation: 'pause', sandboxId, redactor: this.redactor });
    }
  }

  /**
   * Resumes a paused sandbox by id; the same as `connect`.
   *
   * @example
   * const sandbox = await provider.resumeSandbox(id, { taskId });
   */
  resumeSandbox(sandboxId: string, options: CreateSandboxOptions): Promise<E2BSandbox> {
    return this.connect(sandboxId, options);
  }

  /**
   * Kills a sandbox by id (cleanup after a crash, when no `Sandbox` object is at hand). True when it existed.
   *
   * @example
   * await provider.killSandbox(staleId);
   */
  async killSandbox(sandboxId: string): Promise<boolean> {
    const sdk = await this.sdk();
    try {
      return await withE2BBackoff(() => sdk.Sandbox.kill(sandboxId, { apiKey: this.apiKey }), this.options.backoff);
    } catch (e) {
      const name = e instanceof Error ? e.name : '';
      if (name === 'SandboxNotFoundError' || name === 'NotFoundError') return false;
      throw mapE2BError(e, { operation: 'kill', sandboxId, redactor: this.redactor });
    }
  }
}

/**
 * The E2B provider for a configuration; throws a one-line MissingConfigError when `E2B_API_KEY` is not set.
 *
 * @example
 * const provider = createE2BSandboxProvider(config);
 */
export function createE2BSandboxProvider(config: Config, deps: E2BProviderDeps = {}): E2BSandboxProvider {
  if (!config.sandbox.e2bApiKey) {
    throw new MissingConfigError('E2B_API_KEY', 'E2B cloud sandboxes (DEEP_AGENT_SANDBOX=e2b); unset DEEP_AGENT_SANDBOX or set it to local to use bubblewrap');
  }
  const options = {
    ...(config.sandbox.e2bTemplate ? { template: config.sandbox.e2bTemplate } : {}),
    ...(config.sandbox.e2bMaxLifetimeSeconds ? { maxLifetimeSeconds: config.sandbox.e2bMaxLifetimeSeconds } : {}),
    ...(config.sandbox.networkAllow?.length ? { networkAllow: config.sandbox.networkAllow } : {}),
    ...(config.sandbox.secrets?.length ? { maskedCredentials: maskedCredentialsFrom(config) } : {}),
    ...deps.options,
    resourceLimits: { ...sandboxLimitsOf(config), ...deps.options?.resourceLimits },
  };
  const maxLifetime = options.maxLifetimeSeconds;
  if (maxLifetime !== undefined && (!(maxLifetime > 0) || maxLifetime > E2B_PLAN_MAX_LIFETIME_SECONDS.pro)) {
    throw new DeepAgentError('invalid_input', `maxLifetimeSeconds must be between 1 and ${E2B_PLAN_MAX_LIFETIME_SECONDS.pro} (E2B Pro's 24 h cap).`);
  }
  return new E2BSandboxProvider(config.sandbox.e2bApiKey, { ...deps, options, redactor: deps.redactor ?? redactorFromEnv(config.env) });
}
