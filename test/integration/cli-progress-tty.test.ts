/**
 * `deep-agent run` progress on a real terminal (tmux) and piped: on the TTY the model's text, an elapsed timer
 * while the model and a tool run, and colours (none with NO_COLOR); piped, plain lines with the model's text
 * and no escape codes or timer. Also `--verbose` (first lines of tool output) and `--output stream-json`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../lib/task/index.js';
import { baseEnv, REPO_ROOT, runCli } from '../helpers/cli.js';
import { startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';
import { until } from '../helpers/wait.js';

const HAS_TMUX = (() => {
  try {
    execFileSync('tmux', ['-V']);
    return true;
  } catch {
    return false;
  }
})();
const ESC = '\x1b[';
const MODEL_TEXT = 'Let me look at the files first.';

describe.skipIf(!HAS_TMUX)('deep-agent run progress on a TTY (tmux) and piped (needs tmux)', () => {
  let model: ScriptedModelServer;
  let dir: string;
  const socket = `deep-agent-test-${process.pid}`;

  beforeAll(async () => {
    // Every task gets the same two turns: a slow model turn with text and a slow command, then the answer.
    model = await startScriptedModel((req) => {
      const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
      return turn === 1
        ? { delayMs: 900, text: MODEL_TEXT, toolUses: [{ name: 'run_command', input: { command: 'sleep 1; echo first-line; echo second-line' } }] }
        : { delayMs: 300, text: 'All looked fine.' };
    });
    dir = mkdtempSync(join(tmpdir(), 'cli-tty-'));
  });
  afterAll(async () => {
    try {
      execFileSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
    } catch {
      /* no server left */
    }
    await model?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const env = (name: string, extra: Record<string, string> = {}) =>
    baseEnv({ ANTHROPIC_API_KEY: 'sk-ant-test-tty', ANTHROPIC_BASE_URL: model.url, DEEP_AGENT_HOME: join(dir, `home-${name}`), ...extra });

  /** Runs the CLI in a tmux pane and returns every byte the pane received (escape codes included). */
  async function runInTmux(name: string, args: string[], extraEnv: Record<string, string> = {}, interact?: (raw: () => string) => Promise<void>): Promise<string> {
    const raw = join(dir, `${name}.raw`);
    const go = join(dir, `${name}.go`);
    const done = join(dir, `${name}.done`);
    writeFileSync(raw, '');
    const envArgs = Object.entries(env(name, extraEnv)).map(([k, v]) => `${k}='${v}'`).join(' ');
    const cli = [process.execPath, '--no-warnings=ExperimentalWarning', '--import', 'tsx', `${REPO_ROOT}bin/deep-agent.ts`, ...args].map((a) => `'${a}'`).join(' ');
    // The pane waits for `go` so that pipe-pane is attached before the first byte.
    const script = `while [ ! -f '${go}' ]; do sleep 0.05; done; cd '${REPO_ROOT}' && env -i ${envArgs} TERM=screen-256color ${cli}; echo $? > '${done}'; sleep 30`;
    execFileSync('tmux', ['-L', socket, '-f', '/dev/null', 'new-session', '-d', '-s', name, '-x', '160', '-y', '50', 'sh', '-c', script]);
    execFileSync('tmux', ['-L', socket, 'pipe-pane', '-t', name, '-o', `cat >> '${raw}'`]);
    writeFileSync(go, '');
    if (interact) await interact(() => readFileSync(raw, 'utf8'));
    await until(async () => existsSync(done), Boolean, 40_000, 100);
    execFileSync('tmux', ['-L', socket, 'kill-session', '-t', name]);
    expect(readFileSync(done, 'utf8').trim()).toBe('0');
    return readFileSync(raw, 'utf8');
  }

  it('shows the model text, a running timer and colours on a TTY', async () => {
    const out = await runInTmux('tty', ['run', '--yes', 'check the files']);
    expect(out).toContain(MODEL_TEXT);
    expect(out).toMatch(/model thinking · \d+\.\d s/);
    expect(out).toMatch(/running run_command · \d+\.\d s/);
    expect(out).toContain(`${ESC}32m✓${ESC}39m`); // green tick
    expect(out).toContain(`${ESC}2K`); // the timer line is cleared before each progress line
    expect(out).toMatch(/succeeded.*: 2 steps/);
  }, 60_000);

  it('asks for approval with the reason once, the timer line held while the prompt waits', async () => {
    const out = await runInTmux('approve', ['run', 'check the files'], { DEEP_AGENT_APPROVE_TOOLS: 'run_command' }, async (raw) => {
      await until(async () => raw(), (s) => s.includes('[y/N]'), 30_000, 50);
      const atPrompt = raw().length;
      // Nothing may draw over the prompt while it waits.
      await new Promise((r) => setTimeout(r, 400));
      expect(raw().slice(atPrompt)).toBe('');
      execFileSync('tmux', ['-L', socket, 'send-keys', '-t', 'approve', 'y', 'Enter']);
    });
    const prompt = /Allow run_command .*\((.+)\) \[y\/N\]/.exec(out);
    expect(prompt).not.toBeNull();
    const reason = prompt![1]!;
    expect(out.split(reason).length - 1).toBe(1);
    expect(out).toContain('approved');
    expect(out).toContain('first-line');
  }, 60_000);

  it('keeps the timer but drops colour with NO_COLOR on a TTY', async () => {
    const out = await runInTmux('nocolor', ['run', '--yes', 'check the files'], { NO_COLOR: '1' });
    expect(out).toMatch(/model thinking · \d+\.\d s/);
    expect(out).toContain(MODEL_TEXT);
    expect(out).not.toMatch(/\x1b\[(?:1|2|3\d)m/);
  }, 60_000);

  it('prints plain lines when piped: the model text, no timer, no escape codes; --verbose adds output lines', async () => {
    const r = await runCli(['run', '--yes', '--verbose', 'check the files'], env('piped'), { timeoutMs: 40_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(MODEL_TEXT);
    expect(r.stderr).toMatch(/✓ run_command \(\d+ ms\)/);
    expect(r.stderr).toMatch(/^ {6}first-line$/m);
    expect(r.stderr).not.toContain('model thinking');
    expect(r.stderr).not.toContain('\x1b');
    expect(r.stdout.trim()).toBe('All looked fine.');
  }, 60_000);

  it('--output stream-json prints one JSON event per line, then the record', async () => {
    const r = await runCli(['run', '--yes', '--output', 'stream-json', 'check the files'], env('json'), { timeoutMs: 40_000 });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as TaskEvent & { record?: { status: string } });
    const events = lines.slice(0, -1);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['task.queued', 'task.started', 'model.response', 'tool.called', 'tool.result', 'task.succeeded']));
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(lines.at(-1)).toMatchObject({ type: 'record', record: { status: 'succeeded' } });
    expect(r.stderr).not.toContain('→ run_command');
  }, 60_000);
});
