/**
 * Fires due schedule slots exactly once across processes and restarts.
 */
import type { DatabaseSync } from 'node:sqlite';
import { toErrorInfo } from '../errors/index.js';
import { transaction, type Clock, systemClock } from './database.js';
import { latestSlot, ScheduleStore, type Schedule, type ScheduleState } from './schedules.js';

export interface SchedulerOptions {
  /**
   * Called once per claimed slot. Make the task it creates idempotent with {@link scheduleSlotKey} as the
   * idempotency key. A throw is recorded on the slot (see `ScheduleStore.fires`); the slot is not retried.
   */
  onFire(schedule: Schedule, slot: Date): Promise<void> | void;
  /** Called when `onFire` throws, or a background tick fails. */
  onError?(error: unknown, schedule?: Schedule, slot?: Date): void;
  /** @default Date.now */
  clock?: Clock;
  /**
   * A slot claimed this long ago whose `onFire` neither finished nor threw (its scheduler crashed in
   * between) is claimed again and fired. Use {@link scheduleSlotKey} so that such a re-fire is harmless.
   * @default 300_000 (5 minutes)
   */
  reclaimAfterMs?: number;
}

export interface FiredSlot {
  scheduleId: string;
  slot: Date;
  ok: boolean;
}

/**
 * A stable idempotency key for the task of one slot, so a task is created once per slot even when two
 * callers race.
 *
 * @example
 * store.create(newTaskRecord({ id, prompt, source: 'schedule', idempotencyKey: scheduleSlotKey(s.id, slot) }));
 */
export const scheduleSlotKey = (scheduleId: string, slot: Date): string => `schedule:${scheduleId}:${slot.toISOString()}`;

/**
 * Fires every enabled schedule's due slot.
 *
 * Each tick claims, per schedule, the latest slot in `(last fired slot, now]`; the claim inserts
 * `(schedule_id, slot)` under a UNIQUE constraint and advances the schedule's last slot in the same
 * transaction, so two schedulers, or one restarted, never fire a slot twice.
 *
 * Catch-up policy: after downtime (or a tick later than several slots) only the most recent missed slot
 * fires; older missed slots are skipped. A schedule's first slot is the first one after its creation.
 * The claim comes before `onFire`; when a scheduler dies between the two, the claim goes stale and a later
 * tick (after `reclaimAfterMs`) fires the slot again, so make `onFire` idempotent per slot with
 * {@link scheduleSlotKey} (the task store dedupes on it) and each slot yields exactly one task.
 *
 * @example
 * const scheduler = new Scheduler(db, { onFire: (s, slot) => submitScheduledTask(s, slot) });
 * scheduler.start({ intervalMs: 1_000 });
 * // ... on shutdown
 * await scheduler.stop();
 */
export class Scheduler {
  private readonly store: ScheduleStore;
  private readonly clock: Clock;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly db: DatabaseSync,
    private readonly options: SchedulerOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.store = new ScheduleStore(db, { clock: this.clock });
  }

  /** Claims and fires every due slot at `now`; returns what fired, in schedule order. */
  async tick(now: Date = new Date(this.clock())): Promise<FiredSlot[]> {
    const fired: FiredSlot[] = [];
    for (const schedule of this.store.list()) {
      if (!schedule.enabled) continue;
      const slot = this.claim(schedule.id, now.getTime()) ?? this.reclaim(schedule.id, now.getTime());
      if (slot === undefined) continue;
      const at = new Date(slot);
      const clean = publicSchedule(schedule);
      try {
        await this.options.onFire(clean, at);
        this.db.prepare('UPDATE schedule_fires SET fired_at = ? WHERE schedule_id = ? AND slot = ?').run(this.clock(), schedule.id, slot);
        fired.push({ scheduleId: schedule.id, slot: at, ok: true });
      } catch (e) {
        const info = toErrorInfo(e);
        this.db
          .prepare('UPDATE schedule_fires SET error = ? WHERE schedule_id = ? AND slot = ?')
          .run(`${info.code}: ${info.message}`, schedule.id, slot);
        this.options.onError?.(e, clean, at);
        fired.push({ scheduleId: schedule.id, slot: at, ok: false });
      }
    }
    return fired;
  }

  /** Ticks every `intervalMs` (default 1 s) until `stop`; ticks never overlap. */
  start(opts: { intervalMs?: number } = {}): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.tick()
        .catch((e) => this.options.onError?.(e))
        .finally(() => (this.running = undefined));
    }, opts.intervalMs ?? 1_000);
    this.timer.unref?.();
  }

  /** Stops ticking and waits for a tick in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** In one transaction: re-read the schedule, pick its due slot and claim it. Returns the slot claimed. */
  private claim(id: string, now: number): number | undefined {
    return transaction(this.db, () => {
      const s = this.store.get(id);
      if (!s || !s.enabled) return undefined;
      const slot = latestSlot(s, s.lastSlot ?? Date.parse(s.createdAt), now);
      if (slot === undefined) return undefined;
      const r = this.db
        .prepare('INSERT INTO schedule_fires (schedule_id, slot, claimed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING')
        .run(id, slot, now);
      this.db.prepare('UPDATE schedules SET last_slot = MAX(COALESCE(last_slot, 0), ?) WHERE id = ?').run(slot, id);
      return Number(r.changes) === 1 ? slot : undefined;
    });
  }

  /** Takes over the schedule's latest slot when its claim went stale without an outcome. */
  private reclaim(id: string, now: number): number | undefined {
    const staleBefore = now - (this.options.reclaimAfterMs ?? 300_000);
    return transaction(this.db, () => {
      const row = this.db
        .prepare(
          `SELECT f.slot FROM schedule_fires f JOIN schedules s ON s.id = f.schedule_id AND s.last_slot = f.slot
           WHERE f.schedule_id = ? AND f.fired_at IS NULL AND f.error IS NULL AND f.claimed_at <= ?`,
        )
        .get(id, staleBefore) as { slot: number } | undefined;
      if (!row) return undefined;
      this.db.prepare('UPDATE schedule_fires SET claimed_at = ? WHERE schedule_id = ? AND slot = ?').run(now, id, row.slot);
      return row.slot;
    });
  }
}

function publicSchedule(s: ScheduleState): Schedule {
  const { lastSlot: _ignored, ...rest } = s;
  return rest;
}
