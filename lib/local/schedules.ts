/**
 * Recurring tasks: validated schedule definitions (cron with a time zone, or an EventBridge-style rate) and
 * their SQLite table.
 */
import { randomUUID } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { Cron } from 'croner';
import * as z from 'zod';
import { DeepAgentError } from '../errors/index.js';
import { BudgetSchema, ScheduleFieldsSchema } from '../task/index.js';
import { transaction, type Clock, systemClock } from './database.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS schedules (
  id TEXT PRIMARY KEY,
  definition TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  last_slot INTEGER
);
CREATE TABLE IF NOT EXISTS schedule_fires (
  schedule_id TEXT NOT NULL,
  slot INTEGER NOT NULL,
  claimed_at INTEGER NOT NULL,
  fired_at INTEGER,
  error TEXT,
  UNIQUE (schedule_id, slot)
);
`;

const RATE = /^rate\((\d{1,6}) (minute|minutes|hour|hours|day|days)\)$/;
const UNIT_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

/**
 * Parses an EventBridge rate expression (`rate(1 hour)`, `rate(5 minutes)`) into milliseconds. Like
 * EventBridge, a value of 1 takes the singular unit and larger values the plural.
 *
 * @example
 * parseRate('rate(5 minutes)'); // 300000
 */
export function parseRate(expression: string): number {
  const m = RATE.exec(expression);
  const n = m ? Number(m[1]) : 0;
  const unit = m?.[2];
  if (!m || n < 1 || !unit || (n === 1) !== !unit.endsWith('s')) {
    throw new DeepAgentError('invalid_input', `rate must look like "rate(1 hour)" or "rate(5 minutes)", not "${expression}"`);
  }
  return n * UNIT_MS[unit.replace(/s$/, '') as keyof typeof UNIT_MS];
}

const isTimeZone = (tz: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

const isRate = (expression: string): boolean => {
  try {
    parseRate(expression);
    return true;
  } catch {
    return false;
  }
};

const isCron = (pattern: string): boolean => {
  try {
    new Cron(pattern, { paused: true, mode: '5-part' });
    return true;
  } catch {
    return false;
  }
};

/** Body of `POST /schedules`: exactly one of `cron` (5 fields, read in `timezone`) or `rate`. */
export const ScheduleInputSchema = ScheduleFieldsSchema.extend({
  cron: z.string().trim().min(1).max(200).refine(isCron, 'is not a valid 5-field cron expression').optional(),
  rate: z
    .string()
    .trim()
    .refine(isRate, 'must look like "rate(1 hour)" or "rate(5 minutes)"')
    .optional(),
  timezone: z.string().min(1).max(64).refine(isTimeZone, 'is not an IANA time zone').optional(),
  enabled: z.boolean().optional(),
}).refine((s) => (s.cron === undefined) !== (s.rate === undefined), { message: 'give exactly one of cron or rate' });
export type ScheduleInput = z.input<typeof ScheduleInputSchema>;

export interface Schedule {
  id: string;
  cron?: string;
  rate?: string;
  prompt: string;
  /** IANA zone in which `cron` is read. */
  timezone: string;
  budget?: z.infer<typeof BudgetSchema>;
  mcpServers?: string[];
  enabled: boolean;
  /** ISO time; `rate` slots count from here. */
  createdAt: string;
}

/**
 * Validates a schedule body; throws `invalid_input` with a one-line message naming the field.
 *
 * @example
 * parseScheduleInput({ cron: '0 9 * * 1-5', timezone: 'Europe/Paris', prompt: 'triage issues' });
 */
export function parseScheduleInput(input: unknown): z.infer<typeof ScheduleInputSchema> {
  const r = ScheduleInputSchema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  throw new DeepAgentError('invalid_input', `invalid schedule: ${where}${issue.message}`);
}

interface ScheduleRow {
  id: string;
  definition: string;
  enabled: number;
  created_at: number;
  last_slot: number | null;
}

/** A schedule with the scheduler's bookkeeping (the last slot fired, in ms). */
export interface ScheduleState extends Schedule {
  lastSlot?: number;
}

function toSchedule(r: ScheduleRow): ScheduleState {
  const def = JSON.parse(r.definition) as Omit<Schedule, 'id' | 'enabled' | 'createdAt'>;
  return {
    id: r.id,
    ...def,
    enabled: r.enabled === 1,
    createdAt: new Date(r.created_at).toISOString(),
    ...(r.last_slot !== null ? { lastSlot: r.last_slot } : {}),
  };
}

/**
 * Persisted schedules.
 *
 * @example
 * const schedules = new ScheduleStore(db);
 * const s = schedules.create({ rate: 'rate(1 hour)', prompt: 'check the build' });
 */
export class ScheduleStore {
  private readonly clock: Clock;

  constructor(
    private readonly db: DatabaseSync,
    options: { clock?: Clock } = {},
  ) {
    this.clock = options.clock ?? systemClock;
    db.exec(SCHEMA);
  }

  /** Validates and stores a schedule; throws `invalid_input` for a bad body. */
  create(input: unknown, options: { id?: string } = {}): Schedule {
    const { enabled, ...def } = parseScheduleInput(input);
    const id = options.id ?? `sch_${randomUUID()}`;
    const now = this.clock();
    const definition = { ...def, timezone: def.timezone ?? 'UTC' };
    const r = this.db
      .prepare('INSERT INTO schedules (id, definition, enabled, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(id, JSON.stringify(definition), enabled === false ? 0 : 1, now);
    if (Number(r.changes) === 0) throw new DeepAgentError('conflict', `schedule ${id} already exists`);
    return this.get(id)!;
  }

  get(id: string): ScheduleState | undefined {
    const row = this.db.prepare('SELECT * FROM schedules WHERE id = ?').get(id) as unknown as ScheduleRow | undefined;
    return row ? toSchedule(row) : undefined;
  }

  /** Oldest first. */
  list(): ScheduleState[] {
    return (this.db.prepare('SELECT * FROM schedules ORDER BY created_at, rowid').all() as unknown as ScheduleRow[]).map(toSchedule);
  }

  /** Removes a schedule and its fire history; throws `not_found` for an unknown id. */
  delete(id: string): void {
    transaction(this.db, () => {
      const r = this.db.prepare('DELETE FROM schedules WHERE id = ?').run(id);
      if (Number(r.changes) === 0) throw new DeepAgentError('not_found', `schedule ${id} does not exist`);
      this.db.prepare('DELETE FROM schedule_fires WHERE schedule_id = ?').run(id);
    });
  }

  /**
   * Pauses or resumes a schedule. Resuming does not catch up on the slots missed while paused: the next
   * slot after the moment of resuming is the first to fire.
   */
  setEnabled(id: string, enabled: boolean): ScheduleState {
    if (enabled) {
      this.db.prepare('UPDATE schedules SET enabled = 1, last_slot = MAX(COALESCE(last_slot, 0), ?) WHERE id = ? AND enabled = 0').run(this.clock(), id);
    } else {
      this.db.prepare('UPDATE schedules SET enabled = 0 WHERE id = ?').run(id);
    }
    const s = this.get(id);
    if (!s) throw new DeepAgentError('not_found', `schedule ${id} does not exist`);
    return s;
  }

  /** Slots claimed for a schedule, oldest first (the fire history). */
  fires(id: string): { slot: string; claimedAt: string; firedAt?: string; error?: string }[] {
    const rows = this.db
      .prepare('SELECT slot, claimed_at, fired_at, error FROM schedule_fires WHERE schedule_id = ? ORDER BY slot')
      .all(id) as { slot: number; claimed_at: number; fired_at: number | null; error: string | null }[];
    return rows.map((r) => ({
      slot: new Date(r.slot).toISOString(),
      claimedAt: new Date(r.claimed_at).toISOString(),
      ...(r.fired_at !== null ? { firedAt: new Date(r.fired_at).toISOString() } : {}),
      ...(r.error !== null ? { error: r.error } : {}),
    }));
  }
}

/**
 * The latest slot of `schedule` in `(after, now]`, or undefined. Cron slots are read in the schedule's time
 * zone; rate slots are `createdAt + k * period`, k >= 1.
 *
 * @example
 * latestSlot(schedule, Date.parse(schedule.createdAt), Date.now());
 */
export function latestSlot(schedule: Schedule, after: number, now: number): number | undefined {
  let slot: number | undefined;
  if (schedule.rate) {
    const period = parseRate(schedule.rate);
    const start = Date.parse(schedule.createdAt);
    const k = Math.floor((now - start) / period);
    slot = k >= 1 ? start + k * period : undefined;
  } else if (schedule.cron) {
    const cron = new Cron(schedule.cron, { paused: true, mode: '5-part', timezone: schedule.timezone });
    // previousRuns excludes its reference, so look from just after `now` to include a slot exactly at `now`.
    slot = cron.previousRuns(1, new Date(now + 1))[0]?.getTime();
  }
  return slot !== undefined && slot > after && slot <= now ? slot : undefined;
}
