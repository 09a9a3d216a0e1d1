import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hasCode } from '../../lib/errors/index.js';
import { openDatabase, SqliteTaskStore, type TaskLog } from '../../lib/local/index.js';
import { Redactor } from '../../lib/secrets/index.js';
import { newTaskRecord } from '../../lib/task/index.js';

/** Shaped like an Anthropic key, assembled so the source holds no credential-shaped literal. */
const SHAPED = ['sk', 'ant', 'api03', 'abcdefghijklmnop'].join('-');

const CANARY = 'canary-9f8e7d6c5b4a-secret-value';
const LIB = join(import.meta.dirname, '../../lib/local/index.ts');

let home: string;
let db: DatabaseSync;
let store: SqliteTaskStore;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'local-store-'));
  db = openDatabase(home);
  store = new SqliteTaskStore(db, { redactor: new Redactor([CANARY]) });
});
afterEach(() => {
  db.close();
  rmSync(home, { recursive: true, force: true });
});

/** Appends `count` events from a separate process, after `go` appears (so two writers overlap). */
function appendFromProcess(dir: string, taskId: string, writer: string, count: number, go: string): Promise<void> {
  const code = `
    import { existsSync } from 'node:fs';
    import { openDatabase, SqliteTaskStore } from ${JSON.stringify(LIB)};
    const store = new SqliteTaskStore(openDatabase(${JSON.stringify(dir)}));
    while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < ${count}; i++) await store.appendEvent(${JSON.stringify(taskId)}, 'tool.called', { writer: ${JSON.stringify(writer)}, i });
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`writer ${writer} exited ${c}: ${stderr}`))));
  });
}

describe('SqliteTaskStore', () => {
  it('keeps seq strictly increasing without gaps under concurrent appends from two processes', async () => {
    // prepare
    await store.create(newTaskRecord({ id: 't1', prompt: 'p', source: 'cli' }));
    const go = join(home, 'go');
    const writers = [appendFromProcess(home, 't1', 'a', 150, go), appendFromProcess(home, 't1', 'b', 150, go)];
    // act
    setTimeout(() => writeFileSync(go, ''), 400);
    for (let i = 0; i < 50; i++) await store.appendEvent('t1', 'tool.result', { writer: 'main', i });
    await Promise.all(writers);
    // assess
    const events = await store.listEvents('t1', 0, 10_000);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 350 }, (_, i) => i + 1));
    for (const w of ['a', 'b', 'main']) {
      const mine = events.filter((e) => e.data.writer === w).map((e) => e.data.i);
      expect(mine).toEqual([...mine].sort((x, y) => (x as number) - (y as number)));
    }
    const writersInterleaved = events.slice(50).some((e, i, a) => i > 0 && e.data.writer !== a[i - 1]!.data.writer);
    expect(writersInterleaved).toBe(true);
  });

  it('pages events after a seq', async () => {
    for (let i = 0; i < 5; i++) await store.appendEvent('t2', 'plan.updated', { i });
    const page = await store.listEvents('t2', 2, 2);
    expect(page.map((e) => e.seq)).toEqual([3, 4]);
    expect(page[0]).toMatchObject({ taskId: 't2', type: 'plan.updated', data: { i: 2 } });
  });

  it('redacts a canary secret from records and events before writing: the raw database files do not hold it', async () => {
    // prepare
    const record = newTaskRecord({ id: 'secret-task', prompt: `use ${CANARY} and ${SHAPED}`, source: 'http' });
    // act
    const { record: stored } = await store.create(record);
    await store.update('secret-task', { result: { text: `done with ${CANARY}` } });
    await store.appendEvent('secret-task', 'tool.result', { output: `token=${CANARY}`, nested: [{ v: CANARY }] });
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    // assess
    expect(stored.prompt).not.toContain(CANARY);
    expect(stored.prompt).toContain('[REDACTED]');
    expect((await store.get('secret-task'))!.result!.text).toBe('done with [REDACTED]');
    expect(JSON.stringify(await store.listEvents('secret-task'))).not.toContain(CANARY);
    for (const f of readdirSync(home)) {
      const bytes = readFileSync(join(home, f));
      expect(bytes.includes(Buffer.from(CANARY)), f).toBe(false);
      expect(bytes.includes(Buffer.from(SHAPED)), f).toBe(false);
    }
  });

  it('returns the existing record for a reused idempotency key, per account', async () => {
    // prepare
    const first = await store.create(newTaskRecord({ id: 'a1', prompt: 'p', source: 'http', idempotencyKey: 'k1', accountId: 'acct-1' }));
    // act
    const again = await store.create(newTaskRecord({ id: 'a2', prompt: 'other', source: 'http', idempotencyKey: 'k1', accountId: 'acct-1' }));
    const otherAccount = await store.create(newTaskRecord({ id: 'a3', prompt: 'p', source: 'http', idempotencyKey: 'k1', accountId: 'acct-2' }));
    const noAccount = await store.create(newTaskRecord({ id: 'a4', prompt: 'p', source: 'http', idempotencyKey: 'k1' }));
    // assess
    expect(first.created).toBe(true);
    expect(again).toEqual({ record: first.record, created: false });
    expect(otherAccount.created).toBe(true);
    expect(noAccount.created).toBe(true);
    expect(await store.get('a2')).toBeUndefined();
  });

  it('refuses a second record with the same id', async () => {
    await store.create(newTaskRecord({ id: 'dup', prompt: 'p', source: 'cli' }));
    await expect(store.create(newTaskRecord({ id: 'dup', prompt: 'q', source: 'cli' }))).rejects.toSatisfy((e) => hasCode(e, 'conflict'));
  });

  it('updates a record, keeping id and idempotency key, and throws not_found for an unknown id', async () => {
    // prepare
    await store.create(newTaskRecord({ id: 'u1', prompt: 'p', source: 'cli', idempotencyKey: 'k' }));
    // act
    const next = await store.update('u1', { status: 'running', startedAt: '2026-01-01T00:00:00.000Z', id: 'hijack', idempotencyKey: 'x' });
    // assess
    expect(next).toMatchObject({ id: 'u1', status: 'running', idempotencyKey: 'k', startedAt: '2026-01-01T00:00:00.000Z' });
    expect((await store.list({ status: 'running' })).map((r) => r.id)).toEqual(['u1']);
    await expect(store.update('nope', { status: 'failed' })).rejects.toSatisfy((e) => hasCode(e, 'not_found'));
  });

  it('keeps a terminal status final: a finish racing a cancel cannot turn cancelled into succeeded', async () => {
    // prepare: the task was cancelled while its run was still going
    await store.create(newTaskRecord({ id: 't1', prompt: 'p', source: 'cli' }));
    await store.update('t1', { status: 'running' });
    await store.update('t1', { status: 'cancelled', error: { code: 'cancelled', message: 'the task was cancelled' } });
    // act: the run's own late writes, then a same-status patch
    const finished = await store.update('t1', { status: 'succeeded', result: { text: 'done' } });
    const resumed = await store.update('t1', { status: 'running' });
    const closed = await store.update('t1', { status: 'cancelled', finishedAt: '2026-01-01T00:00:00.000Z' });
    // assess
    expect(finished).toMatchObject({ status: 'cancelled' });
    expect(finished.result).toBeUndefined();
    expect(resumed.status).toBe('cancelled');
    expect(closed).toMatchObject({ status: 'cancelled', finishedAt: '2026-01-01T00:00:00.000Z' });
    expect(await store.get('t1')).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' }, finishedAt: '2026-01-01T00:00:00.000Z' });
    expect((await store.list({ status: 'succeeded' })).map((r) => r.id)).toEqual([]);
  });

  it('lists newest first, filtered by status, with a limit', async () => {
    const at = (m: number) => new Date(Date.UTC(2026, 0, 1, 0, m));
    await store.create(newTaskRecord({ id: 'l1', prompt: 'p', source: 'cli', now: at(1) }));
    await store.create(newTaskRecord({ id: 'l2', prompt: 'p', source: 'cli', now: at(2) }));
    await store.create(newTaskRecord({ id: 'l3', prompt: 'p', source: 'cli', now: at(3) }));
    await store.update('l2', { status: 'succeeded' });
    expect((await store.list()).map((r) => r.id)).toEqual(['l3', 'l2', 'l1']);
    expect((await store.list({ status: 'queued', limit: 1 })).map((r) => r.id)).toEqual(['l3']);
  });

  it('exports the per-task JSON log with the record and ordered events', async () => {
    // prepare
    await store.create(newTaskRecord({ id: 'exp', prompt: 'p', source: 'cli' }));
    await store.appendEvent('exp', 'task.queued', {});
    await store.appendEvent('exp', 'task.started', {});
    // act
    const path = await store.exportTaskLog('exp', join(home, 'logs'));
    // assess
    expect(path).toBe(join(home, 'logs', 'exp.json'));
    const log = JSON.parse(readFileSync(path, 'utf8')) as TaskLog;
    expect(log.task.id).toBe('exp');
    expect(log.events.map((e) => [e.seq, e.type])).toEqual([
      [1, 'task.queued'],
      [2, 'task.started'],
    ]);
    await expect(store.exportTaskLog('missing', home)).rejects.toSatisfy((e) => hasCode(e, 'not_found'));
    await expect(store.exportTaskLog('../evil', home)).rejects.toSatisfy((e) => hasCode(e, 'invalid_input'));
  });
});
