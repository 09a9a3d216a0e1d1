/**
 * The CLI's client commands end to end: a real `deep-agent serve --port 0` subprocess (scripted model) driven
 * by the real CLI (submit, logs --follow, status, schedules, approve, cancel), then SIGTERM while a task is
 * mid-way: serve releases it, exits 0, and the next start on the same home finishes it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskEvent, TaskRecord } from '../../lib/task/index.js';
import { baseEnv, runCli, startServe, type ServeProcess } from '../helpers/cli.js';
import { firstUserText, startScriptedModel, type ScriptedModelServer, type ScriptedReply } from '../helpers/scripted-model.js';
import { alive, until } from '../helpers/wait.js';

const TOKEN = 'cli-service-token-0123456789';

type Serve = ServeProcess;

/** Replies by prompt, so tasks running side by side each get their own script. */
function reply(prompt: string, turn: number, timesAsked: number): ScriptedReply {
  switch (prompt) {
    case 'plan then answer':
      if (turn === 1) return { delayMs: 700, toolUses: [{ name: 'write_todos', input: { todos: [{ content: 'say hello', status: 'completed' }] } }] };
      return { text: 'hello from the service' };
    case 'write approved.txt':
      return turn === 1 ? { toolUses: [{ name: 'write_file', input: { path: 'approved.txt', content: 'yes' } }] } : { text: 'written' };
    case 'write denied.txt':
      return turn === 1 ? { toolUses: [{ name: 'write_file', input: { path: 'denied.txt', content: 'no' } }] } : { text: 'not written' };
    case 'take forever':
      return { delayMs: 15_000, text: 'too late' };
    case 'survive a restart':
      // The first ask is still in flight when serve gets SIGTERM; the next start asks again.
      return timesAsked === 1 ? { delayMs: 15_000, text: 'never delivered' } : { text: 'finished after the restart' };
    default:
      return { text: 'done' };
  }
}

describe('deep-agent client commands against a serve subprocess', () => {
  let model: ScriptedModelServer;
  let home: string;
  let env: Record<string, string>;
  let serve: Serve;
  const asked = new Map<string, number>();

  beforeAll(async () => {
    model = await startScriptedModel((req) => {
      const prompt = firstUserText(req);
      const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
      const key = `${prompt}#${turn}`;
      asked.set(key, (asked.get(key) ?? 0) + 1);
      return reply(prompt, turn, asked.get(key)!);
    });
    home = mkdtempSync(join(tmpdir(), 'cli-service-'));
    env = baseEnv({
      ANTHROPIC_API_KEY: 'sk-ant-test-cli-service',
      ANTHROPIC_BASE_URL: model.url,
      DEEP_AGENT_HOME: home,
      DEEP_AGENT_API_TOKEN: TOKEN,
      DEEP_AGENT_APPROVE_TOOLS: 'write_file',
    });
    serve = await startServe(env);
    env.DEEP_AGENT_API_URL = serve.url;
  }, 30_000);
  afterAll(async () => {
    serve?.child.kill('SIGKILL');
    await model?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const api = async <T>(path: string): Promise<T> => (await (await fetch(`${serve.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as T;
  const submit = async (prompt: string): Promise<string> => {
    const r = await runCli(['submit', '--json', prompt], env);
    expect(r.code, r.stderr).toBe(0);
    const answer = JSON.parse(r.stdout) as { taskId: string; status: string };
    expect(answer.status).toBe('queued');
    return answer.taskId;
  };
  const approvalOf = async (id: string): Promise<string> => {
    const { events } = await until(() => api<{ events: TaskEvent[] }>(`/tasks/${id}/events`), (b) => b.events.some((e) => e.type === 'approval.requested'));
    return (events.find((e) => e.type === 'approval.requested')!.data as { approvalId: string }).approvalId;
  };
  const statusOf = async (id: string) => (await api<TaskRecord>(`/tasks/${id}`)).status;

  it('submit --json, logs --follow until the end, status --json', async () => {
    const id = await submit('plan then answer');
    const logs = await runCli(['logs', id, '--follow'], env, { timeoutMs: 15_000 });
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain(`task ${id} started`);
    expect(logs.stdout).toContain('[x] say hello');
    expect(logs.stdout).toContain('→ write_todos');

    const status = await runCli(['status', id, '--json'], env);
    expect(status.code, status.stderr).toBe(0);
    const record = JSON.parse(status.stdout) as TaskRecord;
    expect(record).toMatchObject({ id, status: 'succeeded', result: { text: 'hello from the service' } });
    expect(record.plan).toEqual([{ content: 'say hello', status: 'completed' }]);
  }, 20_000);

  it('schedules add, list --json, rm, and a second rm fails in one line', async () => {
    const added = await runCli(['schedules', 'add', '--rate', 'rate(1 minute)', 'check the weather'], env);
    expect(added.code, added.stderr).toBe(0);
    const scheduleId = added.stdout.trim();
    expect(scheduleId).toMatch(/\S/);

    const listed = await runCli(['schedules', 'list', '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: scheduleId, rate: 'rate(1 minute)', prompt: 'check the weather' })]);

    const removed = await runCli(['schedules', 'rm', scheduleId], env);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout.trim()).toBe(`${scheduleId} removed`);
    const [again, after] = await Promise.all([runCli(['schedules', 'rm', scheduleId], env), runCli(['schedules', 'list', '--json'], env)]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`deep-agent: schedule ${scheduleId} does not exist`);
    expect(JSON.parse(after.stdout)).toEqual([]);
  }, 20_000);

  it('approve, approve --deny --reason, and cancel', async () => {
    const [yes, no, slow] = await Promise.all([submit('write approved.txt'), submit('write denied.txt'), submit('take forever')]);
    const [yesApproval, noApproval] = await Promise.all([approvalOf(yes), approvalOf(no)]);
    const [approved, denied] = await Promise.all([
      runCli(['approve', yes, yesApproval], env),
      runCli(['approve', no, noApproval, '--deny', '--reason', 'not in this repo'], env),
    ]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout.trim()).toBe(`${yesApproval} approved`);
    expect(denied.code, denied.stderr).toBe(0);
    expect(denied.stdout.trim()).toBe(`${noApproval} denied`);

    await until(() => Promise.all([statusOf(yes), statusOf(no)]), (s) => s.every((x) => x === 'succeeded'));
    expect(readFileSync(join(home, 'workspaces', yes, 'approved.txt'), 'utf8')).toBe('yes');
    expect(existsSync(join(home, 'workspaces', no, 'denied.txt'))).toBe(false);
    const { events } = await api<{ events: TaskEvent[] }>(`/tasks/${no}/events`);
    expect(events.find((e) => e.type === 'approval.resolved')?.data).toMatchObject({ approve: false, reason: 'not in this repo' });

    await until(() => statusOf(slow), (s) => s === 'running');
    const cancelled = await runCli(['cancel', slow], env);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout.trim()).toBe(`${slow} cancelled`);
    expect(await statusOf(slow)).toBe('cancelled');
  }, 25_000);

  it('SIGTERM mid-task: serve releases the task, exits 0 within the grace, and the next start finishes it', async () => {
    const id = await submit('survive a restart');
    await until(async () => asked.get('survive a restart#1') ?? 0, (n) => n === 1);
    const t0 = Date.now();
    serve.child.kill('SIGTERM');
    const code = await serve.exited;
    expect(code, serve.stderr()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(alive(serve.child.pid!)).toBe(false);
    expect(serve.stderr()).toContain(`released 1 running task(s) for the next start: ${id}`);

    serve = await startServe(env);
    env.DEEP_AGENT_API_URL = serve.url;
    const record = await until(() => api<TaskRecord>(`/tasks/${id}`), (r) => r.status === 'succeeded', 10_000, 100);
    expect(record.result?.text).toBe('finished after the restart');
    expect(asked.get('survive a restart#1')).toBe(2);
  }, 25_000);
});
