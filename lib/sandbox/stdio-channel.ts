/**
 * The listener side of a `StdioChannel`, shared by the providers: output that arrives before anyone listens
 * (E2B streams from the moment the command starts) is kept and handed to the first listener, and a listener
 * registered after the exit still hears it.
 */
import type { StdioChannel } from './types.js';

type Listener<T> = (value: T) => void;

/** One stream of chunks that buffers until its first listener. */
class BufferedStream {
  private listeners: Listener<string>[] = [];
  private pending: string[] = [];

  push(chunk: string): void {
    if (this.listeners.length === 0) this.pending.push(chunk);
    else for (const l of this.listeners) l(chunk);
  }

  listen(cb: Listener<string>): void {
    this.listeners.push(cb);
    const pending = this.pending;
    this.pending = [];
    for (const chunk of pending) cb(chunk);
  }
}

/**
 * The events of a channel: feed it with `data`, `stderr` and `exit`; `listeners()` gives the `on*` methods.
 *
 * @example
 * const events = new StdioChannelEvents();
 * child.stdout.on('data', (d) => events.data(d));
 * return { ...events.listeners(), write, close };
 */
export class StdioChannelEvents {
  private readonly out = new BufferedStream();
  private readonly err = new BufferedStream();
  private exitListeners: Listener<number | null>[] = [];
  private exitCode: { code: number | null } | undefined;

  data(chunk: string): void {
    if (chunk) this.out.push(chunk);
  }

  stderr(chunk: string): void {
    if (chunk) this.err.push(chunk);
  }

  /** Records the exit once; later calls are ignored. */
  exit(code: number | null): void {
    if (this.exitCode) return;
    this.exitCode = { code };
    const listeners = this.exitListeners;
    this.exitListeners = [];
    for (const l of listeners) l(code);
  }

  get exited(): boolean {
    return this.exitCode !== undefined;
  }

  listeners(): Pick<StdioChannel, 'onData' | 'onStderr' | 'onExit'> {
    return {
      onData: (cb) => this.out.listen(cb),
      onStderr: (cb) => this.err.listen(cb),
      onExit: (cb) => {
        if (this.exitCode) cb(this.exitCode.code);
        else this.exitListeners.push(cb);
      },
    };
  }
}
