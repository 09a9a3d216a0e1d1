/**
 * The AWS path on the wire: SQS (fauxqs) -> dispatcher -> durable agent (LocalDurableTestRunner) -> S3 (fauxqs),
 * with the real model client talking to the scripted Anthropic-compatible server.
 *
 * Lambda itself cannot run here, so the dispatcher's Lambda client is a stand-in that starts the agent handler
 * under LocalDurableTestRunner and keeps Lambda's documented rule for durable execution names: the same name
 * with the same payload returns the existing execution, a different payload is
 * DurableExecutionAlreadyStartedException.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { withDurableExecution, type DurableContext } from '@aws/durable-execution-sdk-js';
import { LocalDurableTestRunner, type TestResult } from '@aws/durable-execution-sdk-js-testing';
import { runTask } from '../../lib/agent/index.js';
import {
  DurableJournal,
  S3TaskStore,
  createAgentHandler,
  dispatchBatch,
  formatTaskMessage,
  startDurableRun,
  taskIdForMessage,
  type AgentHandlerDeps,
  type LambdaSender,
  type SqsEvent,
} from '../../lib/aws/index.js';
import { loadConfig } from '../../lib/config/index.js';
import { DeepAgentError } from '../../lib/errors/index.js';
import { createModelClient } from '../../lib/model/index.js';
import type { SandboxProvider } from '../../lib/sandbox/types.js';
import { newTaskRecord } from '../../lib/task/index.js';
import { startFauxqsHarness, type FauxqsHarness } from '../helpers/fauxqs.js';
import { startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';

const BUCKET = 'tasks';
const MAX_RECEIVE = 3;

/** The tasks here only plan (write_todos); a sandbox is never needed, and asking for one is a test failure. */
const noSandbox: SandboxProvider = {
  name: 'local',
  create: async () => {
    throw new DeepAgentError('sandbox_unavailable', 'these tests do not use a sandbox');
  },
};

/** Stands in for Lambda's durable Invoke: runs the handler under LocalDurableTestRunner, one execution per name. */
function localDurableLambda(handler: ReturnType<typeof withDurableExecution>) {
  const executions = new Map<string, { payload: string; result: Promise<TestResult<unknown>> }>();
  const invokes: { name: string; payload: string }[] = [];
  const lambda: LambdaSender = {
    send: (async (command: InvokeCommand) => {
      const name = command.input.DurableExecutionName!;
      const payload = new TextDecoder().decode(command.input.Payload as Uint8Array);
      invokes.push({ name, payload });
      const existing = executions.get(name);
      if (existing) {
        if (existing.payload !== payload) throw Object.assign(new Error('already started'), { name: 'DurableExecutionAlreadyStartedException' });
        return { StatusCode: 202 };
      }
      const runner = new LocalDurableTestRunner({ handlerFunction: handler });
      executions.set(name, { payload, result: runner.run({ payload: JSON.parse(payload) }) });
      return { StatusCode: 202 };
    }) as LambdaSender['send'],
  };
  return { lambda, executions, invokes };
}

describe('SQS -> dispatcher -> durable agent -> S3, on the wire', () => {
  let aws: FauxqsHarness;
  let model: ScriptedModelServer;
  let store: S3TaskStore;
  let queueUrl: string;
  let dlqUrl: string;

  const planThenAnswer = () => [
    { toolUses: [{ name: 'write_todos', input: { todos: [{ content: 'answer', status: 'completed' }] } }] },
    { text: 'done' },
  ];

  const agentDeps = (overrides: Partial<AgentHandlerDeps> = {}): AgentHandlerDeps => ({
    store,
    runTask,
    prepare: async () => {
      const config = loadConfig({ ANTHROPIC_API_KEY: 'sk-ant-test-key-000000', ANTHROPIC_BASE_URL: model.url, DEEP_AGENT_SANDBOX: 'local' });
      return { model: await createModelClient(config), sandboxProvider: noSandbox };
    },
    ...overrides,
  });

  async function receive(url: string): Promise<SqsEvent> {
    const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }));
    return {
      Records: (out.Messages ?? []).map((m) => ({
        messageId: m.MessageId!,
        receiptHandle: m.ReceiptHandle!,
        body: m.Body!,
        attributes: m.Attributes as Record<string, string>,
      })),
    };
  }
  const send = (body: string) => aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));

  beforeAll(async () => {
    await LocalDurableTestRunner.setupTestEnvironment({ skipTime: true });
    aws = await startFauxqsHarness();
    aws.server.createBucket(BUCKET);
    const dlq = aws.server.createQueue('tasks-dlq');
    dlqUrl = dlq.queueUrl;
    queueUrl = aws.server.createQueue('tasks', {
      attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: String(MAX_RECEIVE) }) },
    }).queueUrl;
    store = new S3TaskStore({ s3: aws.s3, bucket: BUCKET });
    model = await startScriptedModel([]);
  });
  afterAll(async () => {
    await model?.close();
    await aws?.stop();
    await LocalDurableTestRunner.teardownTestEnvironment();
  });
  beforeEach(() => model.setScript(planThenAnswer()));

  it('an HTTP submission runs once even when its message is delivered twice, writing record and events to S3', async () => {
    // prepare: the API creates the record, then sends the message
    const taskId = `http-${Date.now()}`;
    await store.create(newTaskRecord({ id: taskId, prompt: 'make a plan', source: 'http', accountId: 'acct-1' }));
    await send(formatTaskMessage({ taskId, accountId: 'acct-1', source: 'http', prompt: 'make a plan' }));
    const agent = localDurableLambda(withDurableExecution(createAgentHandler(agentDeps())));
    const deps = { store, startRun: startDurableRun(agent.lambda, 'agent:live') };
    const requestsBefore = model.requests.length;
    // act: deliver, then deliver the same received event again (at-least-once delivery)
    const event = await receive(queueUrl);
    const first = await dispatchBatch(event, deps);
    const second = await dispatchBatch(event, deps);
    const execution = await agent.executions.get(taskId)!.result;
    // assess
    expect(event.Records).toHaveLength(1);
    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    expect(agent.executions.size).toBe(1);
    expect(agent.invokes.map((i) => i.name)).toEqual([taskId, taskId]);
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect(execution.getResult()).toEqual({ taskId, status: 'succeeded' });
    const record = (await store.get(taskId))!;
    expect(record).toMatchObject({ status: 'succeeded', result: { text: 'done' }, plan: [{ content: 'answer', status: 'completed' }] });
    const events = await store.listEvents(taskId);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['task.started', 'model.response', 'tool.called', 'tool.result', 'task.succeeded']));
    expect(model.requests.length - requestsBefore).toBe(2);
  });

  it('a plain producer message (no taskId) gets a record with source sqs and runs like an HTTP submission', async () => {
    // prepare
    await send(JSON.stringify({ prompt: 'plan from a producer', budget: { maxSteps: 5 }, network: { allow: ['pkg.example.org'] } }));
    const agent = localDurableLambda(withDurableExecution(createAgentHandler(agentDeps())));
    // act
    const event = await receive(queueUrl);
    const out = await dispatchBatch(event, { store, startRun: startDurableRun(agent.lambda, 'agent:live') });
    const again = await dispatchBatch(event, { store, startRun: startDurableRun(agent.lambda, 'agent:live') });
    const taskId = taskIdForMessage(event.Records[0]!.messageId);
    const execution = await agent.executions.get(taskId)!.result;
    // assess
    expect(out.batchItemFailures).toEqual([]);
    expect(again.batchItemFailures).toEqual([]);
    expect(agent.executions.size).toBe(1);
    expect(execution.getStatus()).toBe('SUCCEEDED');
    const record = (await store.get(taskId))!;
    expect(record).toMatchObject({ source: 'sqs', status: 'succeeded', prompt: 'plan from a producer', budget: { maxSteps: 5 }, network: { allow: ['pkg.example.org'] } });
    const types = (await store.listEvents(taskId)).map((e) => e.type);
    expect(types[0]).toBe('task.queued');
    expect(types.filter((t) => t === 'task.queued')).toHaveLength(1);
    expect(types.at(-1)).toBe('task.succeeded');
  });

  it("a producer message's secrets are recorded by name; a runtime that holds no account credentials fails the task, not the execution", async () => {
    // prepare
    const secrets = [{ env: 'API_TOKEN', connection: 'mcpc_unknown', hosts: ['api.example.org'] }];
    await send(JSON.stringify({ prompt: 'use a secret from a producer', accountId: 'acct-1', secrets }));
    const agent = localDurableLambda(withDurableExecution(createAgentHandler(agentDeps())));
    // act
    const event = await receive(queueUrl);
    const out = await dispatchBatch(event, { store, startRun: startDurableRun(agent.lambda, 'agent:live') });
    const taskId = taskIdForMessage(event.Records[0]!.messageId);
    const execution = await agent.executions.get(taskId)!.result;
    // assess
    expect(out.batchItemFailures).toEqual([]);
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect((await store.get(taskId))!).toMatchObject({ source: 'sqs', secrets, status: 'failed', error: { code: 'invalid_input', message: expect.stringContaining('holds no account credentials') } });
  });

  it('reports a failing record in batchItemFailures (not its neighbours), and fauxqs redrives it to the DLQ after maxReceiveCount', async () => {
    // prepare
    await send('this is not a task message');
    await send(JSON.stringify({ prompt: 'a good one' }));
    const agent = localDurableLambda(withDurableExecution(createAgentHandler(agentDeps())));
    const deps = { store, startRun: startDurableRun(agent.lambda, 'agent:live') };
    // act: receive as the event source mapping would; failed messages come back after their visibility timeout
    const failedIds: string[][] = [];
    for (let receiveCount = 1; receiveCount <= MAX_RECEIVE; receiveCount++) {
      const event = await receive(queueUrl);
      const out = await dispatchBatch(event, deps);
      failedIds.push(out.batchItemFailures.map((f) => f.itemIdentifier));
      for (const r of event.Records) {
        const failed = out.batchItemFailures.some((f) => f.itemIdentifier === r.messageId);
        if (failed) await aws.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: r.receiptHandle!, VisibilityTimeout: 0 }));
        else await aws.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: r.receiptHandle! }));
      }
    }
    const afterMax = await receive(queueUrl);
    const dead = await receive(dlqUrl);
    await Promise.all([...agent.executions.values()].map((e) => e.result));
    // assess
    expect(failedIds.every((ids) => ids.length === 1)).toBe(true);
    expect(new Set(failedIds.flat()).size).toBe(1);
    expect(agent.executions.size).toBe(1);
    expect(afterMax.Records).toHaveLength(0);
    expect(dead.Records.map((r) => r.body)).toEqual(['this is not a task message']);
  });

  it('a start that fails (Lambda throttled) is reported for retry', async () => {
    // prepare
    const taskId = `throttled-${Date.now()}`;
    await store.create(newTaskRecord({ id: taskId, prompt: 'p', source: 'http' }));
    const throttled: LambdaSender = { send: (async () => Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }))) as LambdaSender['send'] };
    const outcomes: string[] = [];
    // act
    const out = await dispatchBatch(
      { Records: [{ messageId: 'm-1', body: formatTaskMessage({ taskId, prompt: 'p', source: 'http' }) }] },
      { store, startRun: startDurableRun(throttled, 'agent:live'), onOutcome: (o) => outcomes.push(o.outcome) },
    );
    // assess: back to the queue (not lost), counted as a throttle, and the task still waits
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: 'm-1' }]);
    expect(outcomes).toEqual(['throttled']);
    expect((await store.get(taskId))!.status).toBe('queued');
  });

  it('a task that fails on its own (budget) ends its execution normally: only infrastructure failures fail it', async () => {
    // prepare: one step allowed, the model wants two
    model.setScript([
      { toolUses: [{ name: 'write_todos', input: { todos: [{ content: 'a', status: 'pending' }] } }] },
      { toolUses: [{ name: 'write_todos', input: { todos: [{ content: 'b', status: 'pending' }] } }] },
      { text: 'never reached' },
    ]);
    const taskId = `budget-${Date.now()}`;
    await store.create(newTaskRecord({ id: taskId, prompt: 'plan a lot', source: 'http', budget: { maxSteps: 1 } }));
    const runner = new LocalDurableTestRunner({ handlerFunction: withDurableExecution(createAgentHandler(agentDeps())) });
    // act
    const execution = await runner.run({ payload: { taskId } });
    // assess: the record says why; the execution (and so the failure queue and the agent-error alarm) does not fail
    expect((await store.get(taskId))!).toMatchObject({ status: 'failed', error: { code: 'budget_exceeded' } });
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect(execution.getResult()).toEqual({ taskId, status: 'failed' });
  });

  it('replays after an interruption without re-running finished model and tool steps', async () => {
    // prepare: a journal that suspends the invocation after the first tool step, as a Lambda timeout or a
    // redeploy would; the runner then re-invokes the handler, which replays from the checkpoints
    class InterruptingJournal extends DurableJournal {
      override async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
        const value = await super.step(name, fn);
        if (name.startsWith('tool:')) await this.context.wait('interrupt', { seconds: 5 });
        return value;
      }
    }
    const taskId = `replay-${Date.now()}`;
    await store.create(newTaskRecord({ id: taskId, prompt: 'make a plan', source: 'http' }));
    const handler = withDurableExecution(
      createAgentHandler(
        agentDeps({ journalFor: (context: DurableContext, id: string) => new InterruptingJournal(context, { taskId: id, transcripts: store }) }),
      ),
    );
    const runner = new LocalDurableTestRunner({ handlerFunction: handler });
    const requestsBefore = model.requests.length;
    // act
    const execution = await runner.run({ payload: { taskId } });
    // assess
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect(execution.getInvocations().length).toBeGreaterThanOrEqual(2);
    expect(model.requests.length - requestsBefore).toBe(2);
    const types = (await store.listEvents(taskId)).map((e) => e.type);
    expect(types.filter((t) => t === 'tool.called')).toHaveLength(1);
    expect(types.filter((t) => t === 'model.response')).toHaveLength(2);
    expect(types.filter((t) => t === 'task.started')).toHaveLength(1);
  });
});
