/**
 * The opaque cursor of `GET /tasks`: the position (createdAt, id) of the last task of a page, base64url JSON.
 * Every store orders by the same pair, so one format serves SQLite, S3 and memory.
 */
import { DeepAgentError } from '../errors/index.js';
import type { TaskRecord } from './schema.js';

export interface TaskPosition {
  createdAt: string;
  id: string;
}

/**
 * @example
 * const cursor = encodeTaskCursor(page.at(-1)!);
 */
export function encodeTaskCursor(last: Pick<TaskRecord, 'createdAt' | 'id'>): string {
  return Buffer.from(JSON.stringify({ t: last.createdAt, i: last.id })).toString('base64url');
}

/**
 * Reads a cursor written by {@link encodeTaskCursor}; anything else is `invalid_input`.
 *
 * @example
 * const after = cursor ? decodeTaskCursor(cursor) : undefined;
 */
export function decodeTaskCursor(cursor: string): TaskPosition {
  const bad = () => new DeepAgentError('invalid_input', 'cursor is not one this service issued; start again without it');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  const v = value as { t?: unknown; i?: unknown };
  if (typeof v?.t !== 'string' || typeof v.i !== 'string' || Number.isNaN(Date.parse(v.t))) throw bad();
  return { createdAt: v.t, id: v.i };
}

/** True when `r` sorts after `position` in the list order: createdAt descending, then id ascending. */
export function isAfterPosition(r: Pick<TaskRecord, 'createdAt' | 'id'>, position: TaskPosition): boolean {
  return r.createdAt < position.createdAt || (r.createdAt === position.createdAt && r.id > position.id);
}

/** Sort comparator of the list order (createdAt descending, then id ascending, as S3 lists index keys). */
export function compareListOrder(a: Pick<TaskRecord, 'createdAt' | 'id'>, b: Pick<TaskRecord, 'createdAt' | 'id'>): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
