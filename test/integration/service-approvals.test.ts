/**
 * Approvals in the local service park a task instead of holding a worker slot: the record stays
 * waiting_approval, the slot is free for other tasks, and a decision queues the task again, which resumes from
 * the SQLite journal (no finished model turn or tool call runs again), also after a restart of the service.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { approvalPolicyFor } from '../../lib/assembly/index.js';
import { loadConfig } from '../../lib/config/index.js';
import { createSandboxProvider, type Sandbox, type SandboxProvider } from '../../lib/sandbox/index.js';
import { startLocalService, type LocalService } from '../../lib/local/index.js';
import type { TaskEvent, TaskRecord } from '../../lib/task/index.js';
import { modelFor } from '../helpers/factories.js';
import { firstUserText, lastToolResults, startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';
import { until } from '../helpers/wait.js';
import { attachMcp } from '../../lib/mcp/index.js';
import { FakeE2B } from '../helpers/fake-e2b.js';
import { startEverythingHttp } from '../helpers/mcp-servers.js';

const TOKEN = 'approvals-token-0123456789';

let model: ScriptedModelServer;
const homes: string[] = [];
const services: LocalService[] = [];

/** `park ...` prompts: a command (a finished step), then a write that needs approval, then the answer. */
beforeAll(async () => {
  model = await startScriptedModel((req) => {
    const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
    if (!firstUserText(req).startsWith('park')) return { text: 'quick answer' };
    if (turn === 1) return { toolUses: [{ name: 'run_command', input: { command: 'echo before >> runs.txt' } }] };
    if (turn === 2) return { toolUses: [{ name: 'write_file', input: { path: 'approved.txt', content: 'written after approval' } }] };
    return { text: 'finished after the decision' };
  });
  const home = mkdtempSync(join(tmpdir(), 'service-approvals-'));
  homes.push(home);
});
afterEach(async () => {
  for (const svc of services.splice(0)) await svc.stop(1_000);
});
afterAll(async () => {
  await model?.close();
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

async function start(home: string, provider?: SandboxProvider, taskOptions?: Parameters<typeof startLocalService>[0]['taskOptions']): Promise<LocalService> {
  const svc = await startLocalService({
    ...(taskOptions ? { taskOptions } : {}),
    home,
    token: TOKEN,
    model: await modelFor(model, { maxRetries: 0 }),
    // bubblewrap, with workspaces under this home (they persist while a task is parked)
    sandboxProvider: provider ?? (await createSandboxProvider(loadConfig({ DEEP_AGENT_HOME: home, DEEP_AGENT_SANDBOX: 'local' }))),
    port: 0,
    pollIntervalMs: 20,
    schedulerIntervalMs: 0,
    settings: { concurrency: 2, maxAttempts: 2, retryDelaySeconds: 0, visibilityTimeoutSeconds: 30 },
    // The one policy, from the configuration as serve builds it: write_file always asks.
    approvalPolicy: await approvalPolicyFor(loadConfig({ DEEP_AGENT_APPROVE_TOOLS: 'write_file' }).approval),
  });
  services.push(svc);
  return svc;
}

function client(svc: LocalService) {
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${svc.url}${path}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } });
  return {
    submit: async (prompt: string) => ((await (await api('/tasks', { method: 'POST', body: JSON.stringify({ prompt }) })).json()) as { taskId: string }).taskId,
    get: async (id: string) => (await (await api(`/tasks/${id}`)).json()) as TaskRecord,
    events: async (id: string) => ((await (await api(`/tasks/${id}/events`)).json()) as { events: TaskEvent[] }).events,
    decide: (id: string, approvalId: string, body: object) => api(`/tasks/${id}/approvals/${approvalId}`, { method: 'POST', body: JSON.stringify(body) }),
    cancel: (id: string) => api(`/tasks/${id}/cancel`, { method: 'POST' }),
  };
}


/**
 * Bubblewrap with E2B's pause semantics (E2B's cloud cannot run here): `pause` is logged, and a paused
 * sandbox stays until it is closed; every lifecycle call is logged.
 */
function pausable(real: SandboxProvider, log: (call: string) => void): SandboxProvider {
  const wrap = (sandbox: Sandbox): Sandbox =>
    new Proxy(sandbox, {
      get(target, key) {
        if (key === 'pause') return async () => log('pause');
        if (key === 'resume') return async () => log('resume');
        if (key === 'close') return async () => (log('close'), target.close());
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return {
    name: real.name,
    create: async (options) => (log('create'), wrap(await real.create(options))),
    connect: async (id, options) => (log('connect'), wrap(await real.connect!(id, options))),
  };
}

const requestsFor = (prompt: string) => model.requests.filter((r) => firstUserText(r) === prompt).length;
const count = (events: TaskEvent[], type: string) => events.filter((e) => e.type === type).length;

describe('parked approvals in serve', () => {
  it('three tasks waiting for approval free both slots; approve resumes without re-running steps, deny works, cancel ends one', async () => {
    // prepare: three tasks that park, on a service with two workers
    const home = homes[0]!;
    const svc = await start(home);
    const c = client(svc);
    const prompts = ['park approve-me', 'park deny-me', 'park cancel-me'];
    const ids = await Promise.all(prompts.map((p) => c.submit(p)));
    const approvalIds = await Promise.all(
      ids.map(async (id) => {
        const es = await until(() => c.events(id), (list) => list.some((e) => e.type === 'approval.requested'));
        return (es.find((e) => e.type === 'approval.requested')!.data as { approvalId: string }).approvalId;
      }),
    );
    await until(async () => svc.worker.active, (active) => active.length === 0);

    // act 1: an ordinary task while all three wait
    const quick = await c.submit('an ordinary task');
    const quickRecord = await until(() => c.get(quick), (r) => r.status === 'succeeded');
    // assess 1
    expect(quickRecord.result?.text).toBe('quick answer');
    for (const id of ids) expect((await c.get(id)).status).toBe('waiting_approval');
    expect(svc.storage.queue.stats()).toMatchObject({ visible: 0, inFlight: 0 });
    expect(prompts.map(requestsFor)).toEqual([2, 2, 2]);

    // act 2: approve the first, deny the second, cancel the third
    expect((await c.decide(ids[0]!, approvalIds[0]!, { approve: true })).status).toBe(200);
    expect((await c.decide(ids[1]!, approvalIds[1]!, { approve: false, reason: 'not today' })).status).toBe(200);
    const cancelRes = await c.cancel(ids[2]!);
    const approved = await until(() => c.get(ids[0]!), (r) => r.status === 'succeeded');
    const denied = await until(() => c.get(ids[1]!), (r) => r.status === 'succeeded');
    // assess 2: the approved task ran each model turn and the command once, and the approved write
    expect(approved.result?.text).toBe('finished after the decision');
    expect(requestsFor(prompts[0]!)).toBe(3);
    expect(readFileSync(join(home, 'workspaces', ids[0]!, 'runs.txt'), 'utf8')).toBe('before\n');
    expect(readFileSync(join(home, 'workspaces', ids[0]!, 'approved.txt'), 'utf8')).toBe('written after approval');
    const approvedEvents = await c.events(ids[0]!);
    expect([count(approvedEvents, 'task.started'), count(approvedEvents, 'approval.requested'), count(approvedEvents, 'approval.resolved')]).toEqual([1, 1, 1]);
    expect(count(approvedEvents, 'tool.called')).toBe(2);
    expect(approvedEvents.map((e) => e.seq)).toEqual(approvedEvents.map((_, i) => i + 1));
    // the denied one got the denial as an error result, and its write never ran
    expect(requestsFor(prompts[1]!)).toBe(3);
    const lastDenied = model.requests.filter((r) => firstUserText(r) === prompts[1]).at(-1)!;
    expect([...lastToolResults(lastDenied).values()][0]).toMatchObject({ isError: true, text: expect.stringContaining('not today') });
    expect(denied.result?.text).toBe('finished after the decision');
    expect((await c.events(ids[1]!)).filter((e) => e.type === 'tool.called').map((e) => (e.data as { name: string }).name)).toEqual(['run_command']);
    // the cancelled one ended at once, with one task.cancelled, and is never resumed (not even by a late approval)
    expect(cancelRes.status).toBe(200);
    const cancelled = await c.get(ids[2]!);
    expect(cancelled).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' }, finishedAt: expect.any(String) });
    expect((await c.decide(ids[2]!, approvalIds[2]!, { approve: true })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect((await c.get(ids[2]!)).status).toBe('cancelled');
    expect(count(await c.events(ids[2]!), 'task.cancelled')).toBe(1);
    expect(count(await c.events(ids[2]!), 'approval.resolved')).toBe(0);
    expect(requestsFor(prompts[2]!)).toBe(2);
  });

  it('resumes a parked task approved after a restart of the service', async () => {
    // prepare: park a task, then stop the service
    const home = mkdtempSync(join(tmpdir(), 'service-approvals-restart-'));
    homes.push(home);
    const prompt = 'park across a restart';
    const first = await start(home);
    const id = await client(first).submit(prompt);
    const es = await until(() => client(first).events(id), (list) => list.some((e) => e.type === 'approval.requested'));
    const { approvalId } = es.find((e) => e.type === 'approval.requested')!.data as { approvalId: string };
    await until(async () => first.worker.active, (active) => active.length === 0);
    const { released } = await first.stop(1_000);
    services.splice(services.indexOf(first), 1);
    // act: a new service on the same home decides
    const second = await start(home);
    const c = client(second);
    const waiting = await c.get(id);
    const res = await c.decide(id, approvalId, { approve: true });
    const record = await until(() => c.get(id), (r) => r.status === 'succeeded');
    // assess
    expect(released).toEqual([]);
    expect(waiting.status).toBe('waiting_approval');
    expect(res.status).toBe(200);
    expect(record.result?.text).toBe('finished after the decision');
    expect(requestsFor(prompt)).toBe(3);
    expect(readFileSync(join(home, 'workspaces', id, 'runs.txt'), 'utf8')).toBe('before\n');
    expect(readFileSync(join(home, 'workspaces', id, 'approved.txt'), 'utf8')).toBe('written after approval');
    expect(count(await c.events(id), 'task.started')).toBe(1);
  });

  it('leaves a pausable (cloud) sandbox paused while parked, reconnects on resume, and closes it when a parked task is cancelled', async () => {
    // prepare
    const home = mkdtempSync(join(tmpdir(), 'service-approvals-pause-'));
    homes.push(home);
    const logs = { approved: [] as string[], cancelled: [] as string[] };
    const real = await createSandboxProvider(loadConfig({ DEEP_AGENT_HOME: home, DEEP_AGENT_SANDBOX: 'local' }));
    let current: string[] = logs.approved;
    const svc = await start(home, pausable(real, (call) => current.push(call)));
    const c = client(svc);
    const parked = async (prompt: string) => {
      const id = await c.submit(prompt);
      const es = await until(() => c.events(id), (list) => list.some((e) => e.type === 'approval.requested'));
      await until(async () => svc.worker.active, (active) => active.length === 0);
      return { id, approvalId: (es.find((e) => e.type === 'approval.requested')!.data as { approvalId: string }).approvalId };
    };
    // act
    const a = await parked('park and keep the sandbox');
    const atPark = [...logs.approved];
    await c.decide(a.id, a.approvalId, { approve: true });
    await until(() => c.get(a.id), (r) => r.status === 'succeeded');
    current = logs.cancelled;
    const b = await parked('park and cancel');
    const beforeCancel = [...logs.cancelled];
    await c.cancel(b.id);
    // assess
    expect(atPark).toEqual(['create', 'pause']);
    expect(logs.approved).toEqual(['create', 'pause', 'connect', 'close']);
    expect(beforeCancel).toEqual(['create', 'pause']);
    expect(logs.cancelled).toEqual(['create', 'pause', 'connect', 'close']);
    expect((await c.get(b.id)).status).toBe('cancelled');
  });

  it("E2B's MCP gateway of a parked task stays paused, and a cancel while parked kills it (E2B double)", async () => {
    // prepare: the gateway's endpoint is a real server-everything; E2B's control plane is the double
    const home = mkdtempSync(join(tmpdir(), 'service-approvals-gateway-'));
    homes.push(home);
    const fake = await FakeE2B.start();
    const everything = await startEverythingHttp();
    fake.mcpGatewayUrl = everything.spec.url;
    const config = loadConfig({ DEEP_AGENT_HOME: home, DEEP_AGENT_SANDBOX: 'local', GITHUB_TOKEN: 'ghp_test_gateway_token_0000000000000000', E2B_API_KEY: 'e2b_test0123456789abcdef0123', DEEP_AGENT_GITHUB_MCP: 'e2b' });
    const sandboxProvider = await createSandboxProvider(config);
    const mcp = await attachMcp(config, { sandboxProvider, e2bSdk: fake });
    try {
      const svc = await start(home, sandboxProvider, (record) => mcp.taskOptions(record.mcpServers));
      const c = client(svc);
      const id = await c.submit('park with a gateway');
      await until(() => c.events(id), (list) => list.some((e) => e.type === 'approval.requested'));
      await until(async () => svc.worker.active, (active) => active.length === 0);
      const gateway = fake.only();
      const atPark = gateway.state;
      // act
      await c.cancel(id);
      await until(async () => gateway.state, (state) => state === 'killed');
      // assess
      expect(atPark).toBe('paused');
      expect(gateway.metadata).toEqual({ purpose: 'mcp-gateway', taskId: id });
      expect((await c.get(id)).resourceSandboxIds).toEqual({ 'mcp-gateway': gateway.id });
      expect((await c.get(id)).status).toBe('cancelled');
    } finally {
      await mcp.close();
      await everything.stop();
      await fake.cleanup();
    }
  });
});
