/** The per-stream output cap every provider applies to a command's stdout and stderr. */
import { StringDecoder } from 'node:string_decoder';

/**
 * Keeps the first `cap` bytes of a stream and remembers whether more came; streams the kept text (decoded
 * as UTF-8 across chunk boundaries) to a listener while under the cap.
 *
 * @example
 * const out = new CappedOutput(1024, (s) => process.stdout.write(s));
 * child.stdout.on('data', (b) => out.push(b));
 * // later: out.text(), out.truncated
 */
export class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly decoder = new StringDecoder('utf8');
  truncated = false;
  /** true once any chunk arrived (even one past the cap) */
  seen = false;

  constructor(
    private readonly cap: number,
    private readonly listener?: (chunk: string) => void,
  ) {}

  /** Adds a chunk; returns the text of the part that was kept ('' once the cap is reached). */
  push(chunk: Buffer | string): string {
    this.seen = true;
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const room = this.cap - this.size;
    if (b.length > room) this.truncated = true;
    const kept = room <= 0 ? undefined : b.length > room ? b.subarray(0, room) : b;
    if (!kept) return '';
    this.chunks.push(kept);
    this.size += kept.length;
    const text = this.decoder.write(kept);
    if (text) this.listener?.(text);
    return text;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
