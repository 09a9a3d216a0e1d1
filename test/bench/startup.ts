/**
 * Start-up: spawn to the first model request, the built CLI's `run` against a bare SDK script, both spawned as
 * fresh processes against the same scripted server. Median of several processes each.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startScriptedModel } from '../helpers/scripted-model.js';
import { buildPackage, BUILT_CLI } from './build.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BARE_SCRIPT = fileURLToPath(new URL('./bare-sdk-start.mjs', import.meta.url));
const PROCESSES = 7;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Milliseconds from spawning `args` to the scripted server receiving its first request. */
async function spawnToFirstRequest(args: string[], env: Record<string, string>, firstRequest: () => Promise<number>): Promise<number> {
  const t0 = Date.now();
  const child = spawn(process.execPath, args, { cwd: env.INIT_CWD ?? REPO_ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number>((_, reject) => child.on('close', (code) => reject(new Error(`process exited (${code}) before its first request: ${stderr.trim().split('\n').slice(-2).join(' ')}`))));
  try {
    return (await Promise.race([firstRequest(), exited])) - t0;
  } finally {
    child.kill('SIGKILL');
  }
}

/**
 * @example
 * const figures = await benchStartup(); // { 'built CLI run, spawn to first request (median ms)': 240, ... }
 */
export async function benchStartup(): Promise<Record<string, number | string>> {
  await buildPackage();
  let notify: ((at: number) => void) | undefined;
  const server = await startScriptedModel(() => {
    notify?.(Date.now());
    return { text: 'done' };
  });
  const firstRequest = () => new Promise<number>((resolve) => (notify = resolve));
  const home = mkdtempSync(join(tmpdir(), 'bench-startup-'));
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    ANTHROPIC_API_KEY: 'sk-ant-bench',
    ANTHROPIC_BASE_URL: server.url,
    DEEP_AGENT_HOME: join(home, '.deep-agent'),
    DEEP_AGENT_SANDBOX: 'unsafe-local',
    INIT_CWD: home,
  };
  try {
    const cli: number[] = [];
    const bare: number[] = [];
    // Interleaved, so both see the same load on a busy machine; one warm-up each (disk cache).
    for (let i = 0; i <= PROCESSES; i++) {
      const c = await spawnToFirstRequest([BUILT_CLI, 'run', 'say hi'], env, firstRequest);
      const b = await spawnToFirstRequest([BARE_SCRIPT, 'say hi'], env, firstRequest);
      if (i > 0) cli.push(c), bare.push(b);
    }
    const ratio = median(cli) / median(bare);
    return {
      [`built CLI run, spawn to first request (median of ${PROCESSES}, ms)`]: Math.round(median(cli)),
      'bare SDK script, spawn to first request (baseline, ms)': Math.round(median(bare)),
      'start-up ratio CLI / bare (target <= 2)': Number(ratio.toFixed(2)),
    };
  } finally {
    await server.close();
    rmSync(home, { recursive: true, force: true });
  }
}
