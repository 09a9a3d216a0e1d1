import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskEvent, TaskRecord } from '../../lib/task/index.js';
import { baseEnv, REPO_ROOT, runCli } from '../helpers/cli.js';
import { startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';

const TOKEN = 'serve-crash-token-0123456789';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

function startServe(env: Record<string, string>, port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-warnings=ExperimentalWarning', '--import', 'tsx', `${REPO_ROOT}bin/deep-agent.ts`, 'serve', '--port', String(port)], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 20_000);
    child.stderr!.on('data', (d) => {
      err += d;
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

describe('deep-agent serve as a subprocess', () => {
  let model: ScriptedModelServer;
  let home: string;
  let env: Record<string, string>;
  let url: string;
  let port: number;
  let serve: ChildProcess | undefined;
  const turnRequests = new Map<number, number>();
  let signalTurn3!: () => void;
  const turn3Reached = new Promise<void>((r) => (signalTurn3 = r));

  beforeAll(async () => {
    model = await startScriptedModel((req) => {
      const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
      turnRequests.set(turn, (turnRequests.get(turn) ?? 0) + 1);
      if (turn === 1) return { toolUses: [{ name: 'run_command', input: { command: 'echo one >> runs.txt' } }] };
      if (turn === 2) return { toolUses: [{ name: 'run_command', input: { command: 'echo two >> runs.txt' } }] };
      if (turnRequests.get(3) === 1) {
        signalTurn3();
        return { delayMs: 30_000, text: 'never delivered: the service is killed first' };
      }
      return { text: 'resumed and done' };
    });
    home = mkdtempSync(join(tmpdir(), 'serve-crash-'));
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    env = baseEnv({
      ANTHROPIC_API_KEY: 'sk-ant-test-serve-crash',
      ANTHROPIC_BASE_URL: model.url,
      DEEP_AGENT_HOME: home,
      DEEP_AGENT_API_TOKEN: TOKEN,
      DEEP_AGENT_VISIBILITY_TIMEOUT_SECONDS: '2',
    });
    serve = await startServe(env, port);
  }, 30_000);
  afterAll(async () => {
    serve?.kill('SIGKILL');
    await model?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const api = async <T>(path: string): Promise<T> => (await (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as T;

  it('resumes a task after kill -9 without re-running finished model turns or tool calls', async () => {
    const submitted = await runCli(['submit', '--json', '--api', url, 'survive a crash'], env);
    expect(submitted.code, submitted.stderr).toBe(0);
    const { taskId } = JSON.parse(submitted.stdout) as { taskId: string };

    await turn3Reached;
    serve!.kill('SIGKILL');
    await new Promise((r) => serve!.once('exit', r));
    expect(readFileSync(join(home, 'workspaces', taskId, 'runs.txt'), 'utf8')).toBe('one\ntwo\n');

    serve = await startServe(env, port);
    const t0 = Date.now();
    let record: TaskRecord;
    for (;;) {
      record = await api<TaskRecord>(`/tasks/${taskId}`);
      if (record.status === 'succeeded' || Date.now() - t0 > 12_000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(record.status).toBe('succeeded');
    expect(record.result?.text).toBe('resumed and done');
    expect(record.attempts).toBe(2);
    // Turns 1 and 2 finished before the kill: asked once. Turn 3 was in flight: asked again.
    expect(Object.fromEntries(turnRequests)).toEqual({ 1: 1, 2: 1, 3: 2 });
    expect(readFileSync(join(home, 'workspaces', taskId, 'runs.txt'), 'utf8')).toBe('one\ntwo\n');
    const { events } = await api<{ events: TaskEvent[] }>(`/tasks/${taskId}/events`);
    expect(events.filter((e) => e.type === 'task.started')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'tool.called')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'model.response')).toHaveLength(3);
  }, 40_000);

  it('client commands report mistakes, a missing service and a wrong token in one line with exit 1', async () => {
    const list = await api<{ events: TaskEvent[] }>('/tasks/none/events').catch(() => undefined);
    expect(list).toMatchObject({ error: { code: 'not_found' } });
    const closed = `http://127.0.0.1:${await freePort()}`;
    const [status, missing, refused, wrongToken] = await Promise.all([
      runCli(['status', '--api', url, 'no-such-task'], env),
      runCli(['approve', '--api', url, 'no-such-task', 'a1', '--deny'], env),
      runCli(['status', '--api', closed, 'x'], env),
      runCli(['schedules', 'list', '--api', url], { ...env, DEEP_AGENT_API_TOKEN: 'wrong-token-123456' }),
    ]);
    expect(status.code).toBe(1);
    expect(status.stderr.trim()).toBe('deep-agent: task no-such-task does not exist');
    expect(missing.code).toBe(1);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(`deep-agent: no deep-agent service at ${closed}; start one with deep-agent serve`);
    expect(wrongToken.code).toBe(1);
    expect(wrongToken.stderr).toContain('bearer token');
    expect(wrongToken.stderr.trim().split('\n')).toHaveLength(1);
  }, 30_000);
});
