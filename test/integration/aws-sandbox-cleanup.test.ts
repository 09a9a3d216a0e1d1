/**
 * Sandboxes never outlive their task on AWS: the sweeper finds them by the `taskId` metadata in E2B's own
 * list (the E2B double) and kills those whose task is finished or unknown; a cancel of a paused task stops
 * its recorded durable execution by ARN and kills its sandboxes at once. The task store is S3 on fauxqs.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ListDurableExecutionsByFunctionCommand, StopDurableExecutionCommand } from '@aws-sdk/client-lambda';
import { DurableTaskService, S3TaskStore, SqsTaskQueue, sweepSandboxes, type LambdaSender, type SandboxSweepDeps } from '../../lib/aws/index.js';
import { newTaskRecord, type TaskRecord } from '../../lib/task/index.js';
import { FakeE2B } from '../helpers/fake-e2b.js';
import { startFauxqsHarness, type FauxqsHarness } from '../helpers/fauxqs.js';

const API_KEY = 'e2b_test_key_0000000000000000';

describe('sandbox cleanup on AWS (E2B double, S3 on fauxqs)', () => {
  let aws: FauxqsHarness;
  let store: S3TaskStore;
  let fake: FakeE2B;
  let n = 0;

  const task = async (status: TaskRecord['status'], extra: Partial<TaskRecord> = {}) => {
    const record = newTaskRecord({ id: `t-${Date.now()}-${++n}`, prompt: 'p', source: 'http', accountId: 'acct-1' });
    await store.create(record);
    return store.update(record.id, { status, ...extra });
  };
  const sandboxFor = async (taskId: string | undefined, extra: Record<string, string> = {}) =>
    (await fake.Sandbox.create({ apiKey: API_KEY, metadata: { ...(taskId ? { taskId } : {}), ...extra } })).sandboxId;
  const deps = (overrides: Partial<SandboxSweepDeps> = {}): SandboxSweepDeps => ({ sandboxes: fake.Sandbox, apiKey: API_KEY, store, ...overrides });
  const live = () => [...fake.sandboxes.values()].filter((s) => s.state !== 'killed').map((s) => s.id);

  beforeAll(async () => {
    aws = await startFauxqsHarness();
    aws.server.createBucket('tasks');
    store = new S3TaskStore({ s3: aws.s3, bucket: 'tasks' });
  });
  afterAll(async () => aws?.stop());
  beforeEach(async () => {
    fake = await FakeE2B.start();
  });
  afterEach(async () => fake.cleanup());

  it('the sweeper kills sandboxes of finished and unknown tasks, and spares live tasks, young unknowns and foreign sandboxes', async () => {
    // prepare
    const succeeded = await sandboxFor((await task('succeeded')).id);
    const cancelled = await sandboxFor((await task('cancelled')).id, { purpose: 'mcp-gateway' });
    const running = await sandboxFor((await task('running')).id);
    const paused = await sandboxFor((await task('waiting_approval')).id);
    const unknownOld = await sandboxFor('task-nobody-knows');
    fake.age(unknownOld, 3600);
    const unknownYoung = await sandboxFor('task-being-created');
    const foreign = await sandboxFor(undefined, { owner: 'someone else' });
    // act: pages of two, so paging is exercised
    const result = await sweepSandboxes(deps(), undefined);
    const paged = await sweepSandboxes({ ...deps(), sandboxes: { ...fake.Sandbox, list: (o) => fake.listSandboxes({ ...o, limit: 2 }) } });
    // assess
    expect(result.killed.map((k) => [k.sandboxId, k.reason]).sort()).toEqual(
      [
        [succeeded, 'terminal'],
        [cancelled, 'terminal'],
        [unknownOld, 'unknown'],
      ].sort(),
    );
    expect(result.examined).toBe(6);
    expect(live().sort()).toEqual([running, paused, unknownYoung, foreign].sort());
    expect(paged).toEqual({ examined: 3, killed: [] });
    expect(fake.callsOf('listSandboxes').length).toBeGreaterThanOrEqual(3);
  });

  it('a sweep for one task kills only that task\'s sandboxes', async () => {
    // prepare
    const a = await task('cancelled');
    const b = await task('succeeded');
    const [a1, a2] = [await sandboxFor(a.id), await sandboxFor(a.id, { purpose: 'mcp-gateway' })];
    const b1 = await sandboxFor(b.id);
    // act
    const result = await sweepSandboxes(deps(), { taskId: a.id });
    // assess
    expect(result.killed.map((k) => k.sandboxId).sort()).toEqual([a1, a2].sort());
    expect(live()).toEqual([b1]);
  });

  it('cancel of a paused task stops its recorded execution by ARN, kills its sandbox, and a late finish cannot undo it', async () => {
    // prepare: a task paused on an approval, its execution ARN recorded by the dispatcher, its sandbox alive
    const arn = 'arn:aws:lambda:us-east-1:123456789012:function:agent:1/durable-execution/t/0c5b8f6e';
    const paused = await task('waiting_approval', { durableExecutionArn: arn, startedAt: new Date().toISOString() });
    const sandbox = await sandboxFor(paused.id);
    const other = await sandboxFor((await task('running')).id);
    const sent: unknown[] = [];
    const lambda: LambdaSender = { send: (async (command: unknown) => (sent.push(command), {})) as LambdaSender['send'] };
    const service = new DurableTaskService({
      store,
      queue: new SqsTaskQueue(aws.sqs, 'http://unused'),
      lambda,
      agentFunctionName: 'agent:live',
      onExecutionStopped: async (taskId) => void (await sweepSandboxes(deps(), { taskId })),
    });
    // act
    const answer = await service.cancel('acct-1', paused.id);
    const late = await store.update(paused.id, { status: 'succeeded', result: { text: 'finished anyway' } });
    // assess
    expect(sent).toHaveLength(1);
    expect(sent[0]).toBeInstanceOf(StopDurableExecutionCommand);
    expect((sent[0] as StopDurableExecutionCommand).input.DurableExecutionArn).toBe(arn);
    expect(answer).toMatchObject({ status: 'cancelled', finishedAt: expect.any(String), error: { code: 'cancelled' } });
    expect(late.status).toBe('cancelled');
    expect(live()).toEqual([other]);
    expect(fake.callsOf('kill').map((c) => c.sandboxId)).toEqual([sandbox]);
    const types = (await store.listEvents(paused.id)).map((e) => e.type);
    expect(types.filter((t) => t === 'task.cancelled')).toHaveLength(1);
  });

  it('a record without an ARN (started before it was recorded) is stopped by name; an execution already closed is left to record its end', async () => {
    // prepare
    const running = await task('running');
    const sent: unknown[] = [];
    const lambda: LambdaSender = {
      send: (async (command: unknown) => {
        sent.push(command);
        if (command instanceof ListDurableExecutionsByFunctionCommand) return { DurableExecutions: [{ DurableExecutionArn: 'arn:listed' }] };
        throw Object.assign(new Error('execution is not running'), { name: 'ResourceConflictException' });
      }) as LambdaSender['send'],
    };
    let stoppedHook = 0;
    const service = new DurableTaskService({
      store,
      queue: new SqsTaskQueue(aws.sqs, 'http://unused'),
      lambda,
      agentFunctionName: 'agent:live',
      onExecutionStopped: async () => void stoppedHook++,
    });
    // act
    const answer = await service.cancel('acct-1', running.id);
    // assess: looked up by name, the stop refused (closed), so nothing is written for it here
    expect(sent.map((c) => (c as object).constructor.name)).toEqual(['ListDurableExecutionsByFunctionCommand', 'StopDurableExecutionCommand']);
    expect((sent[1] as StopDurableExecutionCommand).input.DurableExecutionArn).toBe('arn:listed');
    expect(answer.status).toBe('cancelled');
    expect(answer.finishedAt).toBeUndefined();
    expect(stoppedHook).toBe(0);
  });
});
