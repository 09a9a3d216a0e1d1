/**
 * DurableJournal details under LocalDurableTestRunner with S3 on fauxqs: large step results go to S3 and only
 * a reference is checkpointed; step errors keep their code across replay; an approval pauses on a durable
 * callback whose id is stored in S3, and the approvals path (AWS task service) completes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { SendDurableExecutionCallbackSuccessCommand } from '@aws-sdk/client-lambda';
import { withDurableExecution, type DurableContext } from '@aws/durable-execution-sdk-js';
import { LocalDurableTestRunner } from '@aws/durable-execution-sdk-js-testing';
import { runTask } from '../../lib/agent/index.js';
import {
  DurableJournal,
  S3TaskStore,
  DurableTaskService,
  SqsTaskQueue,
  createAgentHandler,
  parseTaskMessage,
  type LambdaSender,
  type PendingApproval,
} from '../../lib/aws/index.js';
import { loadConfig } from '../../lib/config/index.js';
import { DeepAgentError, hasCode } from '../../lib/errors/index.js';
import { createModelClient } from '../../lib/model/index.js';
import type { SandboxProvider } from '../../lib/sandbox/types.js';
import { startFauxqsHarness, type FauxqsHarness } from '../helpers/fauxqs.js';
import { startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';

const noSandbox: SandboxProvider = {
  name: 'local',
  create: async () => {
    throw new DeepAgentError('sandbox_unavailable', 'these tests do not use a sandbox');
  },
};

describe('DurableJournal and the AWS task service', () => {
  let aws: FauxqsHarness;
  let store: S3TaskStore;
  let queueUrl: string;
  let model: ScriptedModelServer;

  beforeAll(async () => {
    await LocalDurableTestRunner.setupTestEnvironment({ skipTime: true });
    aws = await startFauxqsHarness();
    aws.server.createBucket('tasks');
    queueUrl = aws.server.createQueue('tasks').queueUrl;
    store = new S3TaskStore({ s3: aws.s3, bucket: 'tasks' });
    model = await startScriptedModel([]);
  });
  afterAll(async () => {
    await model?.close();
    await aws?.stop();
    await LocalDurableTestRunner.teardownTestEnvironment();
  });

  it('checkpoints a reference for a large result (kept in S3), and keeps a step error code across replay', async () => {
    // prepare
    const big = { text: 'x'.repeat(5_000) };
    let runs = 0;
    const transcriptPuts: PutObjectCommand[] = [];
    const transcripts = new S3TaskStore({
      bucket: 'tasks',
      s3: { send: ((c: unknown) => (c instanceof PutObjectCommand && transcriptPuts.push(c), aws.s3.send(c as never))) as typeof aws.s3.send },
    });
    const handler = withDurableExecution(async (_event: unknown, context: DurableContext) => {
      const journal = new DurableJournal(context, { taskId: 'spill-1', transcripts, maxInlineBytes: 1_000 });
      const value = await journal.step('tool:big', async () => (runs++, big));
      const code = await journal.step('tool:fails', async () => Promise.reject(new DeepAgentError('budget_exceeded', 'too much'))).catch((e) => (hasCode(e, 'budget_exceeded') ? 'kept' : 'lost'));
      await context.wait('interrupt', { seconds: 1 });
      const again = await journal.step('tool:big', async () => (runs++, big));
      return { same: value.text === big.text && again.text === big.text, code };
    });
    const runner = new LocalDurableTestRunner({ handlerFunction: handler });
    // act
    const execution = await runner.run({ payload: {} });
    const checkpointed = JSON.stringify(runner.getOperation('tool:big').getStepDetails()?.result);
    const listed = await aws.s3.send(new ListObjectsV2Command({ Bucket: 'tasks', Prefix: 'tasks/spill-1/transcript/' }));
    // assess
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect(execution.getResult()).toEqual({ same: true, code: 'kept' });
    expect(runs).toBe(2); // two distinct steps named alike; neither re-ran on replay
    expect(checkpointed.length).toBeLessThan(200);
    expect(checkpointed).toMatch(/tasks\/spill-1\/transcript\/tool_big-[0-9a-f]{8}\.json/);
    expect(listed.Contents?.map((o) => o.Key)).toEqual([
      expect.stringMatching(/^tasks\/spill-1\/transcript\/tool_big-/),
      expect.stringMatching(/^tasks\/spill-1\/transcript\/tool_big-/),
    ]);
    // written with the tag the bucket's lifecycle rule expires (fauxqs keeps no tags, so the request is checked)
    expect(transcriptPuts.map((p) => p.input.Tagging)).toEqual(['deep-agent-kind=transcript', 'deep-agent-kind=transcript']);
  });

  it('submits through the task service, pauses for approval, and resumes when the approval callback is sent', async () => {
    // prepare: the tool call needs approval; the model then answers
    model.setScript([
      { toolUses: [{ name: 'write_todos', input: { todos: [{ content: 'approved plan', status: 'pending' }] } }] },
      { text: 'planned' },
    ]);
    const runner = new LocalDurableTestRunner({
      handlerFunction: withDurableExecution(
        createAgentHandler({
          store,
          runTask,
          prepare: async () => ({
            model: await createModelClient(loadConfig({ ANTHROPIC_API_KEY: 'sk-ant-test-key-000000', ANTHROPIC_BASE_URL: model.url })),
            sandboxProvider: noSandbox,
            approvalPolicy: (tool) => (tool.name === 'write_todos' ? 'plans need a person' : undefined),
          }),
        }),
      ),
    });
    // Lambda's callback API stands in: it completes the runner's callback operation with the same id.
    const callbacks: string[] = [];
    const lambda: LambdaSender = {
      send: (async (cmd: SendDurableExecutionCallbackSuccessCommand) => {
        callbacks.push(cmd.input.CallbackId!);
        for (let i = 0; ; i++) {
          const op = runner.getOperationByIndex(i);
          let details: { callbackId: string } | undefined;
          try {
            details = op.getCallbackDetails();
          } catch {
            details = undefined; // not a callback operation
          }
          if (details?.callbackId === cmd.input.CallbackId) {
            await op.sendCallbackSuccess(new TextDecoder().decode(cmd.input.Result as Uint8Array));
            return {};
          }
          if (i > 50) throw new Error('no such callback');
        }
      }) as LambdaSender['send'],
    };
    const service = new DurableTaskService({ store, queue: new SqsTaskQueue(aws.sqs, queueUrl), lambda, agentFunctionName: 'agent:live' });
    // act: submit (twice with one key), take the message off the queue, run it, approve
    const first = await service.submit('acct-1', { prompt: 'plan carefully', idempotencyKey: 'once' });
    const second = await service.submit('acct-1', { prompt: 'plan carefully', idempotencyKey: 'once' });
    const received = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    const messages = received.Messages!.map((m) => parseTaskMessage(m.Body!));
    const message = messages[0]!;
    const running = runner.run({ payload: { taskId: message.taskId } });
    let pending: PendingApproval | undefined;
    for (let i = 0; i < 100 && !pending; i++) {
      const keys = await aws.s3.send(new ListObjectsV2Command({ Bucket: 'tasks', Prefix: `tasks/${first.record.id}/approvals/` }));
      const key = keys.Contents?.[0]?.Key;
      pending = key ? await store.getDocument<PendingApproval>(key) : undefined;
      if (!pending) await new Promise((r) => setTimeout(r, 20));
    }
    const waiting = await service.get('acct-1', first.record.id);
    await expect(service.approve('acct-2', first.record.id, pending!.approvalId, { approve: true })).rejects.toMatchObject({ code: 'not_found' });
    await service.approve('acct-1', first.record.id, pending!.approvalId, { approve: true });
    const twice = await service.approve('acct-1', first.record.id, pending!.approvalId, { approve: false }).catch((e) => e);
    const unknown = await service.approve('acct-1', first.record.id, 'no-such-approval', { approve: true }).catch((e) => e);
    const pendingAfter = await store.getDocument(`tasks/${first.record.id}/approvals/${pending!.approvalId}.json`);
    const execution = await running;
    // assess
    expect(second).toMatchObject({ record: { id: first.record.id, status: 'queued' }, created: false });
    // A repeated submit of a still-queued task may send again (harmless: the durable execution name is the task id).
    expect(messages.map((m) => m.taskId)).toEqual(messages.map(() => first.record.id));
    expect(message).toEqual({ taskId: first.record.id, accountId: 'acct-1', source: 'http', prompt: 'plan carefully' });
    expect(waiting.status).toBe('waiting_approval');
    expect(pending).toMatchObject({ taskId: first.record.id, tool: 'write_todos', reason: 'plans need a person' });
    expect(callbacks).toEqual([pending!.callbackId]);
    // decided once: a second decision is a conflict (409), not a second callback; the pending document is gone
    expect(twice).toMatchObject({ code: 'conflict' });
    expect(unknown).toMatchObject({ code: 'not_found' });
    expect(pendingAfter).toBeUndefined();
    expect(execution.getStatus()).toBe('SUCCEEDED');
    const record = await service.get('acct-1', first.record.id);
    expect(record).toMatchObject({ status: 'succeeded', plan: [{ content: 'approved plan', status: 'pending' }] });
    const types = (await service.events('acct-1', first.record.id)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['task.queued', 'approval.requested', 'approval.resolved', 'tool.result', 'task.succeeded']));
    await expect(service.get('acct-2', first.record.id)).rejects.toMatchObject({ code: 'not_found' });
  });
});
