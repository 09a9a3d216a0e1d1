/**
 * Keeps an E2B sandbox alive while its task runs: E2B kills a sandbox when its timeout runs out, so the timeout
 * is pushed forward periodically, never past the plan's lifetime cap (1 h on Hobby, 24 h on Pro). If our
 * process dies, the sandbox dies on its own within one extension: nothing leaks for long.
 */

export interface KeepAliveOptions {
  /** how often the timeout is pushed forward (default 120 s) */
  intervalSeconds?: number;
  /** each push sets the sandbox to expire this many seconds from now (default 600 s) */
  extendBySeconds?: number;
}

export interface KeepAliveTarget {
  setTimeout(timeoutMs: number): Promise<void>;
}

/** Periodic `setTimeout` calls on a sandbox, bounded by a lifetime cap counted from the sandbox's start. */
export class SandboxKeepAlive {
  private timer: ReturnType<typeof setInterval> | undefined;
  private inFlight: Promise<void> | undefined;
  /** the last error of an extension, for `info()` and tests */
  lastError: unknown;
  extensions = 0;

  constructor(
    private readonly target: KeepAliveTarget,
    private readonly startedAtMs: number,
    private readonly maxLifetimeMs: number,
    private readonly options: Required<KeepAliveOptions>,
    private readonly onGone: (e: unknown) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds of lifetime left under the plan cap. */
  remainingLifetimeMs(): number {
    return this.maxLifetimeMs - (this.now() - this.startedAtMs);
  }

  start(): void {
    if (this.timer || this.options.intervalSeconds <= 0) return;
    this.timer = setInterval(() => void this.tick(), this.options.intervalSeconds * 1000);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** One extension; exposed so tests and callers can force one. Never throws. */
  async tick(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    this.inFlight = (async () => {
      const extendMs = Math.min(this.options.extendBySeconds * 1000, this.remainingLifetimeMs());
      if (extendMs <= 0) {
        this.stop();
        return;
      }
      try {
        await this.target.setTimeout(extendMs);
        this.extensions++;
        this.lastError = undefined;
      } catch (e) {
        this.lastError = e;
        const name = e instanceof Error ? e.name : '';
        if (name === 'SandboxNotFoundError' || name === 'NotFoundError') {
          this.stop();
          this.onGone(e);
        }
      }
    })().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }
}
