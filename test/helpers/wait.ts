/** Waiting helpers shared by tests that watch processes or poll an API. */

import { readFileSync } from 'node:fs';

/** True while `pid` runs (a zombie waiting to be reaped counts as dead). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `fn` until `ok` holds (or throws with the last value after `timeoutMs`). */
export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 8_000, intervalMs = 25): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out; last value: ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
