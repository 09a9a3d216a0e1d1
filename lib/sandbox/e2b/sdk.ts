/**
 * The slice of the `e2b` SDK this provider uses, as a structural type, so tests can inject a double of E2B's
 * cloud (test/helpers/fake-e2b.ts) and the real SDK is loaded only when an E2B sandbox is actually needed.
 */
import type { McpServer } from 'e2b';

/** What `handle.wait()` resolves to; a non-zero exit rejects with a `CommandExitError` carrying the same fields. */
export interface E2BCommandOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  error?: string;
}

/** A started command (`commands.run(cmd, { background: true })`). */
export interface E2BCommandHandle {
  readonly pid: number;
  wait(): Promise<E2BCommandOutcome>;
  kill(): Promise<boolean>;
}

export interface E2BRunOptions {
  background: true;
  cwd?: string;
  envs?: Record<string, string>;
  /** E2B's own deadline for the command stream, in ms; 0 disables it. */
  timeoutMs?: number;
  onStdout?(data: string): void | Promise<void>;
  onStderr?(data: string): void | Promise<void>;
  /** Keep the command's stdin open for `commands.sendStdin` (stdio MCP servers). @default false */
  stdin?: boolean;
}

export interface E2BEntry {
  name: string;
  path: string;
  type?: string;
  size: number;
  symlinkTarget?: string;
}

/** The information `getInfo()` returns that we use. */
export interface E2BSandboxDetails {
  sandboxId: string;
  templateId: string;
  startedAt: Date;
  endAt: Date;
  state: string;
  cpuCount: number;
  memoryMB: number;
  allowInternetAccess?: boolean;
}

/** The egress rules of `updateNetwork` that this project uses (e2b 2.51 `SandboxNetworkUpdate`). */
export interface E2BNetworkUpdate {
  allowInternetAccess?: boolean;
  /** Hosts (`*.domain` too), IPs or CIDRs; they take precedence over `denyOut`. */
  allowOut?: string[];
  /** IPs or CIDRs only. */
  denyOut?: string[];
  /** Per-domain request transforms (headers injected on egress, never visible inside). */
  rules?: Record<string, { transform?: { headers?: Record<string, string> } }[]>;
}

/** One sandbox instance as returned by `Sandbox.create` / `Sandbox.connect`. */
export interface E2BSandboxInstance {
  readonly sandboxId: string;
  readonly commands: {
    run(cmd: string, opts: E2BRunOptions): Promise<E2BCommandHandle>;
    /** Writes to the stdin of a command started with `stdin: true`. */
    sendStdin(pid: number, data: string): Promise<void>;
  };
  readonly files: {
    read(path: string, opts: { format: 'bytes' }): Promise<Uint8Array>;
    write(path: string, data: string | ArrayBuffer): Promise<unknown>;
    list(path: string, opts?: { depth?: number }): Promise<E2BEntry[]>;
    makeDir(path: string): Promise<boolean>;
  };
  setTimeout(timeoutMs: number): Promise<void>;
  /** Replaces the sandbox's egress rules (omitted fields are cleared). */
  updateNetwork(network: E2BNetworkUpdate): Promise<void>;
  kill(): Promise<boolean>;
  pause(): Promise<boolean>;
  getInfo(): Promise<E2BSandboxDetails>;
  getMcpUrl(): string;
  getMcpToken(): Promise<string | undefined>;
}

export interface E2BCreateOptions {
  apiKey?: string;
  template?: string;
  timeoutMs?: number;
  envs?: Record<string, string>;
  metadata?: Record<string, string>;
  allowInternetAccess?: boolean;
  /** Only the per-domain header injections (`rules`); egress itself is set by `allowInternetAccess`. */
  network?: { rules?: E2BNetworkUpdate['rules'] };
  mcp?: McpServer;
}

export interface E2BConnectOptions {
  apiKey?: string;
  timeoutMs?: number;
}

/** The `Sandbox` class statics we call. */
export interface E2BSandboxStatics {
  create(opts: E2BCreateOptions): Promise<E2BSandboxInstance>;
  connect(sandboxId: string, opts: E2BConnectOptions): Promise<E2BSandboxInstance>;
  pause(sandboxId: string, opts: { apiKey?: string }): Promise<boolean>;
  kill(sandboxId: string, opts: { apiKey?: string }): Promise<boolean>;
}

/** What the provider needs from the `e2b` package. */
export interface E2BSdk {
  Sandbox: E2BSandboxStatics;
}

/**
 * Loads the real `e2b` package (lazily: the local runtime never pays for it).
 *
 * @example
 * const sdk = await loadE2BSdk();
 * const sandbox = await sdk.Sandbox.create({ apiKey });
 */
export async function loadE2BSdk(): Promise<E2BSdk> {
  const e2b = await import('e2b');
  // The compiler checks here that the real SDK fits the slice above.
  const sdk: E2BSdk = { Sandbox: e2b.Sandbox };
  return sdk;
}
