/**
 * A task's sandboxes on durable functions, under the SDK's LocalDurableTestRunner and the E2B double: the
 * task sandbox and E2B's MCP gateway are created in steps, reconnected on a replay, and killed at every end
 * (success, an approval nobody decides, a failed execution), and a task that does not use the gateway never
 * creates one. The gateway's MCP endpoint is a real server-everything over streamable HTTP.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { withDurableExecution, type DurableContext } from '@aws/durable-execution-sdk-js';
import { LocalDurableTestRunner } from '@aws/durable-execution-sdk-js-testing';
import { runTask } from '../../lib/agent/index.js';
import { createAgentHandler, DurableJournal, DurableTaskService, sweepSandboxes, type LambdaSender } from '../../lib/aws/index.js';
import { ListDurableExecutionsByFunctionCommand } from '@aws-sdk/client-lambda';
import { loadConfig } from '../../lib/config/index.js';
import { attachMcp, type AttachedMcp } from '../../lib/mcp/index.js';
import type { ContentBlock, ModelClient, ModelRequest, ModelResponse } from '../../lib/model/types.js';
import { createE2BSandboxProvider } from '../../lib/sandbox/e2b/index.js';
import { emptyUsage, MemoryTaskStore, newTaskRecord, type TaskRecord } from '../../lib/task/index.js';
import { defineTool } from '../../lib/tools/index.js';
import { FakeE2B } from '../helpers/fake-e2b.js';
import { startEverythingHttp, type RunningHttpServer } from '../helpers/mcp-servers.js';
import { until } from '../helpers/wait.js';
import { ApprovalDocs, countedRunner } from '../helpers/durable-harness.js';

const E2B_API_KEY = 'e2b_test0123456789abcdef0123';
const ENV = { GITHUB_TOKEN: 'ghp_test_gateway_token_0000000000000000', E2B_API_KEY, DEEP_AGENT_GITHUB_MCP: 'e2b' };

type Call = { name: string; input: Record<string, unknown> };

/** Replies turn by turn with the scripted tool calls, then an answer; counts the turns it answered. */
class TurnModel implements ModelClient {
  readonly provider = 'anthropic' as const;
  readonly model = 'scripted';
  readonly requests: ModelRequest[] = [];
  constructor(private readonly turns: Call[][]) {}
  async createMessage(request: ModelRequest): Promise<ModelResponse> {
    this.requests.push(request);
    const turn = request.messages.filter((m) => m.role === 'assistant').length;
    const calls = this.turns[turn];
    const content: ContentBlock[] = calls
      ? calls.map((c, i) => ({ type: 'tool_use', id: `toolu_${turn}_${i}`, name: c.name, input: c.input }) as ContentBlock)
      : [{ type: 'text', text: 'done' } as ContentBlock];
    return { content, stopReason: calls ? 'tool_use' : 'end_turn', usage: { ...emptyUsage(), inputTokens: 10, outputTokens: 5 }, model: this.model };
  }
}

const guarded = defineTool({ name: 'guarded', description: 'needs a person', input: z.object({}), run: async () => 'guarded ran' });

/** A task store whose reads can be made to fail, as S3 does when it is unreachable. */
class FlakyStore extends MemoryTaskStore {
  private countdown = 0;
  /** The `n`-th read from now fails, once. */
  failRead(n: number): void {
    this.countdown = n;
  }
  override async get(id: string): Promise<TaskRecord | undefined> {
    if (this.countdown > 0 && --this.countdown === 0) throw new Error('S3 is unreachable (ECONNRESET)');
    return super.get(id);
  }
}

let fake: FakeE2B;
let everything: RunningHttpServer;
const attached: AttachedMcp[] = [];

interface Options {
  turns: Call[][];
  mcpServers?: string[];
  approvalTimeoutSeconds?: number;
  /** Makes `prepare` throw (the secrets cannot be read). */
  prepareFails?: () => boolean;
}

async function harness(o: Options) {
  const store = new FlakyStore();
  const approvals = new ApprovalDocs();
  const taskId = `task-${Math.random().toString(36).slice(2, 10)}`;
  await store.create(newTaskRecord({ id: taskId, prompt: 'main', source: 'http', accountId: 'acct-1', ...(o.mcpServers ? { mcpServers: o.mcpServers } : {}) }));
  const config = loadConfig({ ...ENV, DEEP_AGENT_HOME: mkdtempSync(join(tmpdir(), 'gw-')) });
  const model = new TurnModel(o.turns);
  const sandboxProvider = createE2BSandboxProvider(config, { sdk: fake, options: { workdir: fake.workdir } });
  const durable = withDurableExecution(
    createAgentHandler({
      store: store as never,
      runTask,
      journalFor: (context: DurableContext, id: string) =>
        new DurableJournal(context, { taskId: id, approvals, ...(o.approvalTimeoutSeconds ? { approvalTimeoutSeconds: o.approvalTimeoutSeconds } : {}) }),
      // What lambdas/agent.ts does, per invocation: attach MCP (no sandbox is created here) and take the task's options.
      prepare: async (record) => {
        if (o.prepareFails?.()) throw new Error('AccessDeniedException: the tokens secret cannot be read');
        const mcp = await attachMcp(config, { sandboxProvider, e2bSdk: fake });
        attached.push(mcp);
        const options = mcp.taskOptions(record.mcpServers);
        return {
          model,
          sandboxProvider,
          ...options,
          tools: [...(options.tools ?? []), guarded],
          approvalPolicy: (tool) => (tool.name === 'guarded' ? 'a person decides' : undefined),
          close: () => mcp.close(),
        };
      },
    }),
  );
  const { runner, invocations } = countedRunner(durable);
  return { runner, store, approvals, taskId, invocations, model };
}
type Harness = Awaited<ReturnType<typeof harness>>;

/** Completes the callback that carries `callbackId`, as Lambda's callback API does. */
async function sendDecision(runner: Harness['runner'], callbackId: string, decision: { approve: boolean }) {
  for (let i = 0; i < 500; i++) {
    let details: { callbackId: string } | undefined;
    try {
      details = runner.getOperationByIndex(i).getCallbackDetails();
    } catch {
      details = undefined;
    }
    if (details?.callbackId === callbackId) return void (await runner.getOperationByIndex(i).sendCallbackSuccess(JSON.stringify(decision)));
  }
  throw new Error(`no callback operation ${callbackId}`);
}

/** Runs the execution; once suspended on the approval, calls `beforeDecision`, then approves. */
async function runApproving(h: Harness, beforeDecision: () => void = () => {}) {
  const execution = h.runner.run({ payload: { taskId: h.taskId } });
  const pending = await until(async () => h.approvals.pending()[0], Boolean, 20_000, 5);
  await until(async () => h.invocations.ended === h.invocations.started, Boolean, 20_000, 5);
  beforeDecision();
  await sendDecision(h.runner, pending!.callbackId, { approve: true });
  return execution;
}

const gateways = () => [...fake.sandboxes.values()].filter((s) => s.metadata.purpose === 'mcp-gateway');
const taskSandboxes = () => [...fake.sandboxes.values()].filter((s) => s.metadata.purpose !== 'mcp-gateway');
const live = () => [...fake.sandboxes.values()].filter((s) => s.state !== 'killed');
const echo: Call = { name: 'mcp__e2b__echo', input: { message: 'through the gateway' } };
const command: Call = { name: 'run_command', input: { command: 'echo hi > out.txt' } };

describe("a task's sandboxes on durable functions (E2B double)", () => {
  beforeAll(async () => {
    await LocalDurableTestRunner.setupTestEnvironment({ skipTime: true });
    everything = await startEverythingHttp();
  });
  afterAll(async () => {
    await LocalDurableTestRunner.teardownTestEnvironment();
    await everything?.stop();
  });
  beforeEach(async () => {
    fake = await FakeE2B.start();
    fake.mcpGatewayUrl = everything.spec.url;
  });
  afterEach(async () => {
    await Promise.all(attached.splice(0).map((m) => m.close().catch(() => {})));
    await fake.cleanup();
  });

  it('the gateway is created once, in its step, tagged with the task; a replay after an approval reconnects to it; the end kills it', async () => {
    // prepare: turn 1 calls a gateway tool and a command, turn 2 needs approval (a suspension and a replay)
    const h = await harness({ turns: [[echo, command], [{ name: 'guarded', input: {} }], [echo]] });
    // act
    const execution = await runApproving(h);
    const record = (await h.store.get(h.taskId)) as TaskRecord;
    const events = await h.store.listEvents(h.taskId);
    // assess
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect(record.status).toBe('succeeded');
    expect(h.invocations.started).toBe(2);
    const [gateway] = gateways();
    expect(gateways()).toHaveLength(1);
    expect(fake.callsOf('create').filter((c) => (c.args as { mcp?: unknown }).mcp)).toHaveLength(1);
    expect(gateway!.metadata).toEqual({ purpose: 'mcp-gateway', taskId: h.taskId });
    expect(record.resourceSandboxIds).toEqual({ 'mcp-gateway': gateway!.id });
    expect(record.sandboxIds).toEqual([taskSandboxes()[0]!.id]);
    expect(execution.getOperations().filter((op) => op.getOperationData()?.Name === 'mcp-gateway:create')).toHaveLength(1);
    // the replay reconnected to the same gateway (paused while the person decided) rather than creating one
    expect(fake.callsOf('pause').map((c) => c.sandboxId)).toContain(gateway!.id);
    expect(fake.callsOf('connect').map((c) => c.sandboxId)).toContain(gateway!.id);
    const echoes = events.filter((e) => e.type === 'tool.result' && e.data.name === 'mcp__e2b__echo');
    expect(echoes.map((e) => e.data.ok)).toEqual([true, true]);
    expect(JSON.stringify(echoes)).toContain('through the gateway');
    // the first model request already offered the gateway's tools
    expect(h.model.requests[0]!.tools.map((t) => t.name)).toContain('mcp__e2b__echo');
    expect(live()).toEqual([]);
  });

  it('a task whose mcpServers leave out the gateway creates none, and neither does one with no preset token', async () => {
    // prepare
    const h = await harness({ turns: [[command]], mcpServers: ['something-else'] });
    // act
    const execution = await h.runner.run({ payload: { taskId: h.taskId } });
    const noToken = await attachMcp(loadConfig({ E2B_API_KEY, DEEP_AGENT_GITHUB_MCP: 'e2b', DEEP_AGENT_HOME: mkdtempSync(join(tmpdir(), 'gw-')) }), {
      sandboxProvider: createE2BSandboxProvider(loadConfig({ E2B_API_KEY }), { sdk: fake }),
      e2bSdk: fake,
    });
    attached.push(noToken);
    // assess
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect(((await h.store.get(h.taskId)) as TaskRecord).status).toBe('succeeded');
    expect(gateways()).toEqual([]);
    expect(execution.getOperations().map((op) => op.getOperationData()?.Name)).not.toContain('mcp-gateway:create');
    expect(noToken.taskOptions().resources).toBeUndefined();
    expect(noToken.taskOptions(['e2b']).resources).toBeUndefined();
    expect(fake.callsOf('create').filter((c) => (c.args as { mcp?: unknown }).mcp)).toHaveLength(0);
  });

  it('cancel while paused on an approval: the stop by ARN has the sweeper kill the task sandbox and the gateway the run made', async () => {
    // prepare: the run made both sandboxes, then parked on an approval (both paused)
    const h = await harness({ turns: [[command, echo], [{ name: 'guarded', input: {} }]] });
    void h.runner.run({ payload: { taskId: h.taskId } });
    await until(async () => h.approvals.pending()[0], Boolean, 20_000, 5);
    await until(async () => h.invocations.ended === h.invocations.started, Boolean, 20_000, 5);
    const lambda: LambdaSender = {
      send: (async (command: unknown) =>
        command instanceof ListDurableExecutionsByFunctionCommand ? { DurableExecutions: [{ DurableExecutionArn: 'arn:execution' }] } : {}) as LambdaSender['send'],
    };
    const service = new DurableTaskService({
      store: h.store as never,
      queue: {} as never,
      lambda,
      agentFunctionName: 'agent:live',
      onExecutionStopped: async (taskId) => void (await sweepSandboxes({ sandboxes: fake.Sandbox, apiKey: E2B_API_KEY, store: h.store }, { taskId })),
    });
    const paused = live().map((s) => [s.metadata.purpose ?? 'task', s.state]);
    // act
    const answer = await service.cancel('acct-1', h.taskId);
    // assess
    expect(paused.sort()).toEqual([['mcp-gateway', 'paused'], ['task', 'paused']]);
    expect(answer.status).toBe('cancelled');
    expect(live()).toEqual([]);
    expect(fake.callsOf('kill')).toHaveLength(2);
  });

  it('an approval nobody decides: the task ends budget_exceeded and its paused sandbox and gateway are killed', async () => {
    // prepare: a command creates the task sandbox, then a call waits for a person who never answers
    const h = await harness({ turns: [[command], [{ name: 'guarded', input: {} }]], approvalTimeoutSeconds: 1 });
    // act
    const execution = await h.runner.run({ payload: { taskId: h.taskId } });
    const record = (await h.store.get(h.taskId)) as TaskRecord;
    // assess
    expect(record).toMatchObject({ status: 'failed', error: { code: 'budget_exceeded', message: expect.stringContaining('no decision on approval') } });
    const [sandbox] = taskSandboxes();
    const [gateway] = gateways();
    expect(fake.callsOf('pause').map((c) => c.sandboxId).sort()).toEqual([sandbox!.id, gateway!.id].sort());
    expect(sandbox!.state).toBe('killed');
    expect(gateway!.state).toBe('killed');
    expect(live()).toEqual([]);
    expect(execution.getStatus()).toBe('SUCCEEDED');
  });

  it('a failed execution (the store unreachable on the replay): the handler records the failure and kills the task sandbox and the gateway', async () => {
    // prepare
    const h = await harness({ turns: [[command, echo], [{ name: 'guarded', input: {} }]] });
    // act: the replay's handler reads the record, then the run's own first read fails
    const execution = await runApproving(h, () => h.store.failRead(2));
    const record = (await h.store.get(h.taskId)) as TaskRecord;
    // assess
    expect(execution.getStatus()).toBe('FAILED');
    expect(record).toMatchObject({ status: 'failed', error: { message: expect.stringContaining('S3 is unreachable') } });
    expect(record.finishedAt).toBeDefined();
    expect((await h.store.listEvents(h.taskId)).at(-1)?.type).toBe('task.failed');
    expect(taskSandboxes()).toHaveLength(1);
    expect(gateways()).toHaveLength(1);
    expect(live()).toEqual([]);
  });

  it('a failed execution whose prepare throws: the record says failed, and the sweeper kills what it left (terminal task)', async () => {
    // prepare: the first invocation runs up to the approval; the replay cannot read its secrets
    let secretsDown = false;
    const h = await harness({ turns: [[command, echo], [{ name: 'guarded', input: {} }]], prepareFails: () => secretsDown });
    // act
    const execution = await runApproving(h, () => (secretsDown = true));
    const record = (await h.store.get(h.taskId)) as TaskRecord;
    const before = live().map((s) => s.id).sort();
    const swept = await sweepSandboxes({ sandboxes: fake.Sandbox, apiKey: E2B_API_KEY, store: h.store });
    // assess
    expect(execution.getStatus()).toBe('FAILED');
    expect(record).toMatchObject({ status: 'failed', error: { message: expect.stringContaining('AccessDeniedException') } });
    expect(before).toEqual([...(record.sandboxIds ?? []), record.resourceSandboxIds!['mcp-gateway']!].sort());
    expect(swept.killed.map((k) => [k.sandboxId, k.reason]).sort()).toEqual(before.map((id) => [id, 'terminal']));
    expect(live()).toEqual([]);
  });
});
