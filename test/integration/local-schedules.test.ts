import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, Scheduler, ScheduleStore, scheduleSlotKey, type Schedule } from '../../lib/local/index.js';

let home: string;
let db: DatabaseSync;
let now: number;
const clock = () => now;
const at = (iso: string) => new Date(iso);

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'local-schedules-'));
  db = openDatabase(home);
  now = Date.parse('2026-03-27T12:00:00Z');
});
afterEach(() => {
  db.close();
  rmSync(home, { recursive: true, force: true });
});

/** A scheduler whose fires are recorded as `scheduleId@slotISO`. */
function recordingScheduler(conn: DatabaseSync, fired: string[]) {
  return new Scheduler(conn, { clock, onFire: (s: Schedule, slot: Date) => void fired.push(`${s.id}@${slot.toISOString()}`) });
}

describe('ScheduleStore', () => {
  it('stores, lists, pauses and deletes schedules', () => {
    const store = new ScheduleStore(db, { clock });
    const s = store.create({ cron: '0 9 * * *', timezone: 'Europe/Paris', prompt: 'morning report', budget: { maxSteps: 5 } }, { id: 's1' });
    expect(s).toEqual({
      id: 's1',
      cron: '0 9 * * *',
      timezone: 'Europe/Paris',
      prompt: 'morning report',
      budget: { maxSteps: 5 },
      enabled: true,
      createdAt: '2026-03-27T12:00:00.000Z',
    });
    expect(store.create({ rate: 'rate(1 hour)', prompt: 'p' }).timezone).toBe('UTC');
    expect(store.setEnabled('s1', false).enabled).toBe(false);
    expect(store.list()).toHaveLength(2);
    store.delete('s1');
    expect(store.get('s1')).toBeUndefined();
    expect(() => store.delete('s1')).toThrow(expect.objectContaining({ code: 'not_found' }));
    expect(() => store.create({ cron: 'nope', prompt: 'p' })).toThrow(expect.objectContaining({ code: 'invalid_input' }));
  });
});

describe('Scheduler', () => {
  it('fires "0 9 * * *" Europe/Paris at 9:00 local across the DST change, once per slot, not again after a restart', async () => {
    // prepare
    new ScheduleStore(db, { clock }).create({ cron: '0 9 * * *', timezone: 'Europe/Paris', prompt: 'report' }, { id: 'paris' });
    const fired: string[] = [];
    const scheduler = recordingScheduler(db, fired);
    // act
    for (const t of ['2026-03-28T07:59:59Z', '2026-03-28T08:00:00Z', '2026-03-28T08:00:30Z', '2026-03-29T06:59:00Z', '2026-03-29T07:00:05Z']) {
      now = Date.parse(t);
      await scheduler.tick(at(t));
    }
    const restarted = recordingScheduler(openDatabase(home), fired);
    now = Date.parse('2026-03-29T07:00:40Z');
    const afterRestart = await restarted.tick(at('2026-03-29T07:00:40Z'));
    // assess
    expect(fired).toEqual(['paris@2026-03-28T08:00:00.000Z', 'paris@2026-03-29T07:00:00.000Z']);
    expect(afterRestart).toEqual([]);
  });

  it('after downtime fires only the most recent missed slot', async () => {
    // prepare
    new ScheduleStore(db, { clock }).create({ cron: '0 9 * * *', timezone: 'Europe/Paris', prompt: 'report' }, { id: 'paris' });
    const fired: string[] = [];
    // act: down from creation until 2 April 10:00Z (five 9:00 slots missed)
    const result = await recordingScheduler(db, fired).tick(at('2026-04-02T10:00:00Z'));
    // assess
    expect(fired).toEqual(['paris@2026-04-02T07:00:00.000Z']);
    expect(result).toEqual([{ scheduleId: 'paris', slot: at('2026-04-02T07:00:00Z'), ok: true }]);
  });

  it('fires a rate schedule every period from its creation', async () => {
    // prepare
    new ScheduleStore(db, { clock }).create({ rate: 'rate(5 minutes)', prompt: 'poll' }, { id: 'r' });
    const fired: string[] = [];
    const scheduler = recordingScheduler(db, fired);
    // act
    for (const t of ['2026-03-27T12:04:59Z', '2026-03-27T12:05:00Z', '2026-03-27T12:07:00Z', '2026-03-27T12:10:01Z', '2026-03-27T12:26:00Z']) {
      await scheduler.tick(at(t));
    }
    await recordingScheduler(openDatabase(home), fired).tick(at('2026-03-27T12:27:00Z'));
    // assess
    expect(fired).toEqual(['r@2026-03-27T12:05:00.000Z', 'r@2026-03-27T12:10:00.000Z', 'r@2026-03-27T12:25:00.000Z']);
  });

  it('fires a slot once when two schedulers on two connections tick at the same moment', async () => {
    // prepare
    const store = new ScheduleStore(db, { clock });
    for (const id of ['a', 'b', 'c']) store.create({ rate: 'rate(1 minute)', prompt: id }, { id });
    const fired: string[] = [];
    const one = recordingScheduler(db, fired);
    const two = recordingScheduler(openDatabase(home), fired);
    // act
    await Promise.all([one.tick(at('2026-03-27T12:01:00Z')), two.tick(at('2026-03-27T12:01:00Z'))]);
    // assess
    expect(fired.sort()).toEqual(['a@2026-03-27T12:01:00.000Z', 'b@2026-03-27T12:01:00.000Z', 'c@2026-03-27T12:01:00.000Z']);
  });

  it('skips paused schedules and records a failing onFire on the slot without firing it again', async () => {
    // prepare
    const store = new ScheduleStore(db, { clock });
    store.create({ rate: 'rate(1 minute)', prompt: 'p' }, { id: 'boom' });
    store.create({ rate: 'rate(1 minute)', prompt: 'p', enabled: false }, { id: 'paused' });
    const errors: unknown[] = [];
    let calls = 0;
    const scheduler = new Scheduler(db, {
      clock,
      onFire: () => {
        calls++;
        throw new Error('queue full');
      },
      onError: (e) => errors.push(e),
    });
    // act
    const first = await scheduler.tick(at('2026-03-27T12:01:00Z'));
    await scheduler.tick(at('2026-03-27T12:01:30Z'));
    // assess
    expect(first).toEqual([{ scheduleId: 'boom', slot: at('2026-03-27T12:01:00Z'), ok: false }]);
    expect(calls).toBe(1);
    expect(errors).toHaveLength(1);
    expect(store.fires('boom')).toMatchObject([{ slot: '2026-03-27T12:01:00.000Z', error: 'internal: queue full' }]);
    expect(store.fires('paused')).toEqual([]);
  });

  it('does not catch up on slots missed while paused', async () => {
    const store = new ScheduleStore(db, { clock });
    store.create({ rate: 'rate(1 minute)', prompt: 'p', enabled: false }, { id: 'p' });
    now = Date.parse('2026-03-27T12:10:30Z');
    store.setEnabled('p', true);
    const fired: string[] = [];
    const scheduler = recordingScheduler(db, fired);
    await scheduler.tick(at('2026-03-27T12:10:45Z'));
    await scheduler.tick(at('2026-03-27T12:11:00Z'));
    expect(fired).toEqual(['p@2026-03-27T12:11:00.000Z']);
  });

  it('runs on an interval with start/stop using the injected clock', async () => {
    new ScheduleStore(db, { clock }).create({ rate: 'rate(1 minute)', prompt: 'p' }, { id: 'tick' });
    const fired: string[] = [];
    const scheduler = recordingScheduler(db, fired);
    now = Date.parse('2026-03-27T12:01:00Z');
    scheduler.start({ intervalMs: 5 });
    await new Promise((r) => setTimeout(r, 40));
    await scheduler.stop();
    expect(fired).toEqual(['tick@2026-03-27T12:01:00.000Z']);
  });

  it('fires a slot again when the scheduler that claimed it died before firing, once the claim is stale', async () => {
    // prepare: a scheduler claims 12:05 and "dies" inside onFire (never settles)
    new ScheduleStore(db, { clock }).create({ cron: '5 12 * * *', prompt: 'p' }, { id: 'noon' });
    const dying = new Scheduler(db, { clock, onFire: () => new Promise<void>(() => {}) });
    void dying.tick(at('2026-03-27T12:05:00Z'));
    const fired: string[] = [];
    const successor = new Scheduler(openDatabase(home), {
      clock,
      reclaimAfterMs: 60_000,
      onFire: (s, slot) => void fired.push(`${s.id}@${slot.toISOString()}`),
    });
    // act
    const early = await successor.tick(at('2026-03-27T12:05:30Z'));
    const late = await successor.tick(at('2026-03-27T12:06:00Z'));
    const again = await successor.tick(at('2026-03-27T12:09:00Z'));
    // assess
    expect(early).toEqual([]);
    expect(late).toEqual([{ scheduleId: 'noon', slot: at('2026-03-27T12:05:00Z'), ok: true }]);
    expect(again).toEqual([]);
    expect(fired).toEqual(['noon@2026-03-27T12:05:00.000Z']);
  });

  it('gives a stable idempotency key per slot', () => {
    expect(scheduleSlotKey('s1', at('2026-03-27T12:01:00Z'))).toBe('schedule:s1:2026-03-27T12:01:00.000Z');
  });
});
