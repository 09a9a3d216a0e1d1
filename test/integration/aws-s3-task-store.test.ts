import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { S3TaskStore, eventKey } from '../../lib/aws/index.js';
import { Redactor } from '../../lib/secrets/index.js';
import { newTaskRecord } from '../../lib/task/index.js';
import { startFauxqsHarness, type FauxqsHarness } from '../helpers/fauxqs.js';

const SECRET = 'sk-test-super-secret-value-123';

describe('S3TaskStore on the wire (fauxqs S3)', () => {
  let aws: FauxqsHarness;
  let store: S3TaskStore;
  let n = 0;
  const id = () => `task-${Date.now()}-${++n}`;

  beforeAll(async () => {
    aws = await startFauxqsHarness();
    aws.server.createBucket('tasks');
    store = new S3TaskStore({ s3: aws.s3, bucket: 'tasks', redactor: new Redactor([SECRET]) });
  });
  afterAll(async () => aws?.stop());

  it('creates a record once and refuses a second create of the same id', async () => {
    // prepare
    const record = newTaskRecord({ id: id(), prompt: 'list files', source: 'http' });
    // act
    const first = await store.create(record);
    const second = store.create(record);
    // assess
    expect(first.created).toBe(true);
    await expect(second).rejects.toMatchObject({ code: 'conflict' });
    expect(await store.get(record.id)).toEqual(record);
    expect(await store.get('missing')).toBeUndefined();
  });

  it('returns the same task for the same idempotency key per account, even under concurrent creates', async () => {
    // prepare
    const a = newTaskRecord({ id: id(), prompt: 'p', source: 'http', accountId: 'acct-1', idempotencyKey: 'k-1' });
    const b = newTaskRecord({ id: id(), prompt: 'p', source: 'http', accountId: 'acct-1', idempotencyKey: 'k-1' });
    const other = newTaskRecord({ id: id(), prompt: 'p', source: 'http', accountId: 'acct-2', idempotencyKey: 'k-1' });
    // act
    const [ra, rb] = await Promise.all([store.create(a), store.create(b)]);
    const rOther = await store.create(other);
    // assess
    expect([ra.created, rb.created].sort()).toEqual([false, true]);
    expect(ra.record.id).toBe(rb.record.id);
    expect(rOther.created).toBe(true);
  });

  it('applies concurrent patches of different fields without losing any (If-Match, re-read on 412)', async () => {
    // prepare
    const record = newTaskRecord({ id: id(), prompt: 'p', source: 'sqs' });
    await store.create(record);
    const refusedBefore = aws.refusedConditionalPuts;
    // act: a lost update would drop one of these fields
    await Promise.all([
      store.update(record.id, { status: 'running' }),
      store.update(record.id, { steps: 3 }),
      store.update(record.id, { attempts: 2 }),
      store.update(record.id, { startedAt: '2026-01-01T00:00:00.000Z' }),
      store.update(record.id, { plan: [{ content: 'a', status: 'pending' }] }),
      store.update(record.id, { result: { text: `token ${SECRET}` } }),
    ]);
    // assess
    const final = (await store.get(record.id))!;
    expect(final).toMatchObject({ status: 'running', steps: 3, attempts: 2, startedAt: '2026-01-01T00:00:00.000Z' });
    expect(final.plan).toHaveLength(1);
    expect(final.result!.text).toBe('token [REDACTED]');
    expect(aws.refusedConditionalPuts).toBeGreaterThan(refusedBefore);
    await expect(store.update('missing', { status: 'failed' })).rejects.toMatchObject({ code: 'not_found' });
  });

  it('keeps a terminal status final, even when the finish and the cancel race (conditional update)', async () => {
    // prepare
    const record = newTaskRecord({ id: id(), prompt: 'p', source: 'http' });
    await store.create(record);
    await store.update(record.id, { status: 'running' });
    // act: cancel and the run's own finish at once, then the run's late finish again
    const [cancelled, finished] = await Promise.all([
      store.update(record.id, { status: 'cancelled', error: { code: 'cancelled', message: 'the task was cancelled' } }),
      store.update(record.id, { status: 'succeeded', result: { text: 'done' } }),
    ]);
    const winner = (await store.get(record.id))!.status;
    const late = await store.update(record.id, { status: winner === 'cancelled' ? 'succeeded' : 'cancelled' });
    const stamped = await store.update(record.id, { finishedAt: '2026-01-01T00:00:00.000Z' });
    // assess: whichever landed first stays; the other saw it and changed nothing
    expect(['cancelled', 'succeeded']).toContain(winner);
    expect([cancelled.status, finished.status]).toEqual([winner, winner]);
    expect(late.status).toBe(winner);
    expect(stamped).toMatchObject({ status: winner, finishedAt: '2026-01-01T00:00:00.000Z' });
    expect((await store.get(record.id))!.status).toBe(winner);
  });

  it('keeps event seq strictly increasing under concurrent writers, redacted, listable after a seq', async () => {
    // prepare: two stores = two processes, each with its own seq hint
    const taskId = id();
    await store.create(newTaskRecord({ id: taskId, prompt: 'p', source: 'http' }));
    const otherProcess = new S3TaskStore({ s3: aws.s3, bucket: 'tasks', redactor: new Redactor([SECRET]) });
    // act
    const written = await Promise.all([
      ...Array.from({ length: 8 }, (_, i) => store.appendEvent(taskId, 'tool.called', { i, note: `key=${SECRET}` })),
      ...Array.from({ length: 8 }, (_, i) => otherProcess.appendEvent(taskId, 'tool.result', { i })),
    ]);
    const all = await store.listEvents(taskId);
    const tail = await store.listEvents(taskId, 10);
    const raw = await aws.s3.send(new GetObjectCommand({ Bucket: 'tasks', Key: eventKey(taskId, 1) }));
    // assess
    expect(new Set(written.map((e) => e.seq)).size).toBe(16);
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(tail.map((e) => e.seq)).toEqual([11, 12, 13, 14, 15, 16]);
    expect(JSON.stringify(all)).not.toContain(SECRET);
    expect(await raw.Body!.transformToString()).not.toContain(SECRET);
    expect(await store.listEvents(taskId, 16)).toEqual([]);
  });

  it('the conditional-write gate is real: a second If-None-Match create of one key is refused', async () => {
    // prepare
    const taskId = id();
    await store.create(newTaskRecord({ id: taskId, prompt: 'p', source: 'http' }));
    const before = aws.refusedConditionalPuts;
    // act
    await expect(store.create(newTaskRecord({ id: taskId, prompt: 'other', source: 'http' }))).rejects.toMatchObject({ code: 'conflict' });
    // assess
    expect(aws.refusedConditionalPuts).toBe(before + 1);
    expect((await store.get(taskId))!.prompt).toBe('p');
  });
});
