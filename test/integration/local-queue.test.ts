import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, SqliteQueue } from '../../lib/local/index.js';
import { Redactor } from '../../lib/secrets/index.js';

let home: string;
let db: DatabaseSync;
let now: number;
const clock = () => now;
const advance = (seconds: number) => (now += seconds * 1000);

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'local-queue-'));
  db = openDatabase(home);
  now = Date.UTC(2026, 0, 1);
});
afterEach(() => {
  db.close();
  rmSync(home, { recursive: true, force: true });
});

describe('SqliteQueue', () => {
  it('hides a received message until its visibility timeout passes, then delivers it again with a higher receiveCount', () => {
    // prepare
    const queue = new SqliteQueue(db, { clock });
    queue.send({ taskId: 't1', body: { attempt: 'x' } });
    // act
    const [first] = queue.receive({ visibilityTimeoutSeconds: 30, max: 10 });
    const whileHidden = queue.receive({ visibilityTimeoutSeconds: 30, max: 10 });
    const statsHidden = queue.stats();
    advance(29);
    const justBefore = queue.receive({ visibilityTimeoutSeconds: 30 });
    advance(1);
    const [second] = queue.receive({ visibilityTimeoutSeconds: 30 });
    // assess
    expect(first).toMatchObject({ taskId: 't1', body: { attempt: 'x' }, receiveCount: 1 });
    expect(whileHidden).toEqual([]);
    expect(statsHidden).toEqual({ visible: 0, inFlight: 1, delayed: 0, dead: 0 });
    expect(justBefore).toEqual([]);
    expect(second).toMatchObject({ taskId: 't1', receiveCount: 2 });
    expect(second!.receiptHandle).not.toBe(first!.receiptHandle);
    expect(queue.delete(first!.receiptHandle)).toBe(false); // stale receipt
    expect(queue.delete(second!.receiptHandle)).toBe(true);
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 0, delayed: 0, dead: 0 });
  });

  it('delivers oldest first, at most max, to one receiver only (two connections)', () => {
    // prepare
    const other = openDatabase(home);
    const a = new SqliteQueue(db, { clock });
    const b = new SqliteQueue(other, { clock });
    for (const id of ['t1', 't2', 't3']) {
      a.send({ taskId: id });
      advance(1);
    }
    // act
    const gotA = a.receive({ visibilityTimeoutSeconds: 60, max: 2 });
    const gotB = b.receive({ visibilityTimeoutSeconds: 60, max: 2 });
    other.close();
    // assess
    expect(gotA.map((m) => m.taskId)).toEqual(['t1', 't2']);
    expect(gotB.map((m) => m.taskId)).toEqual(['t3']);
  });

  it('never queues the same task twice while a message is pending, even in flight', () => {
    // prepare
    const queue = new SqliteQueue(db, { clock });
    const first = queue.send({ taskId: 't1' });
    // act
    const again = queue.send({ taskId: 't1', body: 'ignored' });
    const [m] = queue.receive({ visibilityTimeoutSeconds: 30 });
    const whileInFlight = queue.send({ taskId: 't1' });
    queue.delete(m!.receiptHandle);
    const afterDelete = queue.send({ taskId: 't1' });
    // assess
    expect(again).toEqual({ messageId: first.messageId, deduplicated: true });
    expect(whileInFlight).toEqual({ messageId: first.messageId, deduplicated: true });
    expect(afterDelete.deduplicated).toBe(false);
    expect(queue.stats().visible).toBe(1);
  });

  it('honours a send delay', () => {
    const queue = new SqliteQueue(db, { clock });
    queue.send({ taskId: 't1' }, { delaySeconds: 10 });
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 0, delayed: 1, dead: 0 });
    expect(queue.receive({ visibilityTimeoutSeconds: 5 })).toEqual([]);
    advance(10);
    expect(queue.receive({ visibilityTimeoutSeconds: 5 }).map((m) => m.taskId)).toEqual(['t1']);
  });

  it('extends visibility as a heartbeat and releases at once with 0', () => {
    // prepare
    const queue = new SqliteQueue(db, { clock });
    queue.send({ taskId: 't1' });
    const [m] = queue.receive({ visibilityTimeoutSeconds: 10 });
    // act
    advance(8);
    const extended = queue.changeVisibility(m!.receiptHandle, 60);
    advance(30);
    const afterHeartbeat = queue.receive({ visibilityTimeoutSeconds: 10 });
    const released = queue.changeVisibility(m!.receiptHandle, 0);
    const [again] = queue.receive({ visibilityTimeoutSeconds: 10 });
    // assess
    expect(extended).toBe(true);
    expect(afterHeartbeat).toEqual([]);
    expect(released).toBe(true);
    expect(again).toMatchObject({ taskId: 't1', receiveCount: 2 });
    expect(queue.changeVisibility(m!.receiptHandle, 30)).toBe(false);
  });

  it('moves a message that keeps failing to the dead state after maxReceiveCount, with its last error (redacted)', () => {
    // prepare
    const queue = new SqliteQueue(db, { clock, maxReceiveCount: 3, redactor: new Redactor(['hunter2-very-secret']) });
    queue.send({ taskId: 't1' });
    const outcomes = [];
    // act
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [m] = queue.receive({ visibilityTimeoutSeconds: 30 });
      expect(m!.receiveCount).toBe(attempt);
      if (attempt > 1) expect(m!.lastError).toBe(`model_error: boom ${attempt - 1}`);
      outcomes.push(queue.fail(m!.receiptHandle, `model_error: boom ${attempt}${attempt === 3 ? ' hunter2-very-secret' : ''}`));
    }
    // assess
    expect(outcomes.map((o) => o.state)).toEqual(['retry', 'retry', 'dead']);
    expect(queue.receive({ visibilityTimeoutSeconds: 30 })).toEqual([]);
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 0, delayed: 0, dead: 1 });
    const [dead] = queue.listDead();
    expect(dead).toMatchObject({ taskId: 't1', receiveCount: 3, lastError: 'model_error: boom 3 [REDACTED]' });
    expect(queue.send({ taskId: 't1' }).deduplicated).toBe(false); // dead does not block a new run
  });

  it('kills a message whose worker vanished: received maxReceiveCount times and never deleted', () => {
    // prepare
    const queue = new SqliteQueue(db, { clock, maxReceiveCount: 2 });
    queue.send({ taskId: 't1' });
    // act
    queue.receive({ visibilityTimeoutSeconds: 5 });
    advance(5);
    queue.receive({ visibilityTimeoutSeconds: 5 });
    advance(5);
    const third = queue.receive({ visibilityTimeoutSeconds: 5 });
    // assess
    expect(third).toEqual([]);
    expect(queue.listDead()).toMatchObject([{ taskId: 't1', receiveCount: 2, lastError: expect.stringContaining('visibility timeout') }]);
  });

  it('redrives a dead message with a fresh receive count', () => {
    const queue = new SqliteQueue(db, { clock, maxReceiveCount: 1 });
    queue.send({ taskId: 't1' });
    const [m] = queue.receive({ visibilityTimeoutSeconds: 5 });
    queue.fail(m!.receiptHandle, 'boom');
    const [dead] = queue.listDead();
    expect(queue.redrive(dead!.messageId)).toBe(true);
    expect(queue.receive({ visibilityTimeoutSeconds: 5 })).toMatchObject([{ taskId: 't1', receiveCount: 1 }]);
  });

  it('survives reopening the database: messages are durable', () => {
    new SqliteQueue(db, { clock }).send({ taskId: 't1', body: { n: 1 } });
    db.close();
    db = openDatabase(home);
    expect(new SqliteQueue(db, { clock }).receive({ visibilityTimeoutSeconds: 5 })).toMatchObject([{ taskId: 't1', body: { n: 1 } }]);
  });
});
