/**
 * `GET /tasks` on every store (memory, SQLite, S3 on fauxqs) through the task service and the one HTTP app:
 * each account sees only its own tasks, newest first, filtered, and paging returns every task exactly once
 * while new tasks are being submitted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiHandler, S3TaskStore, SqsTaskQueue, type LambdaSender } from '../../lib/aws/index.js';
import { hasCode } from '../../lib/errors/index.js';
import { createHttpApp } from '../../lib/http/index.js';
import { openDatabase, SqliteTaskStore } from '../../lib/local/index.js';
import { MemoryTaskStore, TaskService, type TaskPage, type TaskStore } from '../../lib/task/index.js';
import { startFauxqsHarness, type FauxqsHarness } from '../helpers/fauxqs.js';
import { apiGatewayEvent } from '../helpers/factories.js';

interface StoreCase {
  name: string;
  open(): Promise<{ store: TaskStore; close(): Promise<void> }>;
}

let aws: FauxqsHarness;
let bucketN = 0;
const CASES: StoreCase[] = [
  { name: 'memory', open: async () => ({ store: new MemoryTaskStore(), close: async () => {} }) },
  {
    name: 'sqlite',
    open: async () => {
      const home = mkdtempSync(join(tmpdir(), 'task-list-'));
      const db: DatabaseSync = openDatabase(home);
      return { store: new SqliteTaskStore(db), close: async () => (db.close(), rmSync(home, { recursive: true, force: true })) };
    },
  },
  {
    name: 's3 (fauxqs)',
    open: async () => {
      const bucket = `list-${++bucketN}`;
      aws.server.createBucket(bucket);
      return { store: new S3TaskStore({ s3: aws.s3, bucket }), close: async () => {} };
    },
  },
];

beforeAll(async () => {
  aws = await startFauxqsHarness();
});
afterAll(async () => {
  await aws?.stop();
});

/** Accounts come from the `x-account` header, standing in for the token or authorizer of each runtime. */
function appFor(store: TaskStore) {
  let n = 0;
  // Ids that do not sort by time, so the order must come from createdAt.
  const service = new TaskService({ store, queue: { send: () => {} }, newId: () => `t${String((n++ * 7919) % 10007).padStart(5, '0')}` });
  const app = createHttpApp({ service, authenticate: (req) => req.headers.get('x-account') ?? undefined });
  const call = async (account: string, method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: { 'x-account': account, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  return { service, call };
}

describe.each(CASES)('GET /tasks on the $name store', (c) => {
  it('shows each account only its own tasks, newest first, filtered by status, source and since', async () => {
    // prepare
    const { store, close } = await c.open();
    const { service, call } = appFor(store);
    const mine: string[] = [];
    for (let i = 0; i < 4; i++) {
      mine.push((await service.submit('acct-a', { prompt: `a${i}` })).record.id);
      await service.submit('acct-b', { prompt: `b${i}` }, i === 0 ? 'schedule' : 'http');
      await new Promise((r) => setTimeout(r, 3)); // distinct creation times
    }
    await store.update(mine[1]!, { status: 'succeeded' });
    await store.update(mine[2]!, { status: 'failed' });
    const since = (await store.get(mine[2]!))!.createdAt;
    // act
    const a = await call('acct-a', 'GET', '/tasks');
    const b = await call('acct-b', 'GET', '/tasks?source=schedule');
    const done = await call('acct-a', 'GET', '/tasks?status=succeeded,failed');
    const recent = await call('acct-a', 'GET', `/tasks?since=${encodeURIComponent(since)}`);
    const bad = await call('acct-a', 'GET', '/tasks?status=sleeping');
    const badLimit = await call('acct-a', 'GET', '/tasks?limit=1000');
    const badCursor = await call('acct-a', 'GET', '/tasks?cursor=bm90LW91cnM');
    // assess
    expect(a.status).toBe(200);
    expect((a.body.tasks as { id: string }[]).map((t) => t.id)).toEqual([...mine].reverse());
    expect(a.body.nextCursor).toBeUndefined();
    expect((b.body.tasks as { prompt: string }[]).map((t) => t.prompt)).toEqual(['b0']);
    expect((done.body.tasks as { id: string }[]).map((t) => t.id)).toEqual([mine[2], mine[1]]);
    expect((recent.body.tasks as { id: string }[]).map((t) => t.id)).toEqual([mine[3], mine[2]]);
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'invalid_input' } } });
    expect(badLimit).toMatchObject({ status: 400, body: { error: { code: 'invalid_input', message: expect.stringContaining('limit') } } });
    expect(badCursor).toMatchObject({ status: 400, body: { error: { code: 'invalid_input', message: expect.stringContaining('cursor') } } });
    await close();
  });

  it('pages through every task exactly once while new tasks are being submitted', async () => {
    // prepare
    const { store, close } = await c.open();
    const { service } = appFor(store);
    const before: string[] = [];
    for (let i = 0; i < 23; i++) before.push((await service.submit('acct-a', { prompt: `p${i}` })).record.id);
    await service.submit('acct-b', { prompt: 'other' });
    // act: after each page, another task arrives
    const seen: string[] = [];
    const arrived: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page: TaskPage = await service.list('acct-a', { limit: '5', ...(cursor ? { cursor } : {}) });
      seen.push(...page.tasks.map((t) => t.id));
      cursor = page.nextCursor;
      arrived.push((await service.submit('acct-a', { prompt: `late${pages}` })).record.id);
      pages++;
    } while (cursor && pages < 20);
    // assess
    expect(new Set(seen).size).toBe(seen.length);
    // A task created in the cursor's own millisecond may sort after it and show up (once); nothing older is missed.
    expect(seen.filter((id) => !arrived.includes(id)).sort()).toEqual([...before].sort());
    expect(pages).toBeGreaterThanOrEqual(5);
    await expect(service.list('acct-a', { cursor: 'x' })).rejects.toSatisfy((e) => hasCode(e, 'invalid_input'));
    await close();
  });
});

describe('GET /tasks through the API function (API Gateway events, S3 and SQS on fauxqs)', () => {
  type ApiAnswer = { statusCode: number; body?: string };
  /** An HTTP API (payload 2.0) event as the Lambda authorizer leaves it: the account is in its context. */
  const event = (method: string, path: string, accountId: string, query = '', body?: unknown) =>
    apiGatewayEvent(method, query ? `${path}?${query}` : path, { accountId, body });

  it('shows each of two accounts only its own tasks, page by page', async () => {
    // prepare
    aws.server.createBucket('api-list');
    const queueUrl = aws.server.createQueue('api-list').queueUrl;
    const lambda: LambdaSender = { send: (async () => ({ DurableExecutions: [] })) as LambdaSender['send'] };
    const handler = createApiHandler({ store: new S3TaskStore({ s3: aws.s3, bucket: 'api-list' }), queue: new SqsTaskQueue(aws.sqs, queueUrl), lambda, agentFunctionName: 'agent:live' });
    const submitted: Record<string, string[]> = { 'acct-1': [], 'acct-2': [] };
    for (let i = 0; i < 5; i++) {
      for (const account of ['acct-1', 'acct-2']) {
        const res = (await handler(event('POST', '/tasks', account, '', { prompt: `${account} task ${i}` }) as never)) as ApiAnswer;
        submitted[account]!.push(JSON.parse(res.body!).taskId);
      }
    }
    // act
    const listed: Record<string, string[]> = { 'acct-1': [], 'acct-2': [] };
    for (const account of ['acct-1', 'acct-2']) {
      let cursor: string | undefined;
      do {
        const res = (await handler(event('GET', '/tasks', account, `limit=2${cursor ? `&cursor=${cursor}` : ''}`) as never)) as ApiAnswer;
        expect(res.statusCode).toBe(200);
        const page = JSON.parse(res.body!) as TaskPage;
        listed[account]!.push(...page.tasks.map((t) => t.id));
        cursor = page.nextCursor;
      } while (cursor);
    }
    // assess
    expect(listed['acct-1']!.sort()).toEqual(submitted['acct-1']!.sort());
    expect(listed['acct-2']!.sort()).toEqual(submitted['acct-2']!.sort());
  });
});
