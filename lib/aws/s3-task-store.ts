/**
 * The task store on S3: one JSON object per record, one per event, one per idempotency key.
 *
 * S3 has no transactions, so every write that must not be lost or doubled is a conditional write: a record or
 * an idempotency key is created with `If-None-Match: *`, a record is updated with `If-Match: <etag>` (on 412
 * the record is read again and the patch re-applied), and an event is created with `If-None-Match: *` at the
 * next sequence number (on 412 another writer took that number, so the next one is tried). Keys follow the
 * shared AWS contract: `tasks/<id>/record.json`, `tasks/<id>/events/<seq:10>.json`,
 * `idempotency/<accountId>/<sha256(key)>.json`.
 *
 * Listing an account's tasks never scans the bucket: `create` first writes an empty index object
 * `index/<accountId>/<inverted createdAt ms:13>-<id>` (written before the record, so a crash between the two
 * leaves an entry that listing skips, never a task that listing misses). S3 lists keys in ascending order, so
 * the inverted time makes ListObjectsV2 on the account's prefix return newest first (ties by id ascending, the
 * order every store uses), and a cursor's position turns into `StartAfter`. Status and source change or are not in the key, so they are filtered on the
 * records read; a page reads at most {@link MAX_INDEX_KEYS_PER_PAGE} index keys and may come back short with a
 * cursor.
 */
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { DeepAgentError } from '../errors/index.js';
import { getJsonObject, isNoSuchKey, putJsonObject, type S3Sender, type WriteCondition } from './s3-json.js';
import { Redactor } from '../secrets/index.js';
import type { TaskStore } from '../task/index.js';
import {
  decodeTaskCursor,
  leavesTerminalStatus,
  encodeTaskCursor,
  TaskEventSchema,
  TaskRecordSchema,
  type EventType,
  type TaskEvent,
  type TaskListQuery,
  type TaskPage,
  type TaskRecord,
} from '../task/index.js';


export interface S3TaskStoreOptions {
  s3: S3Sender;
  /** The `TASK_BUCKET`. */
  bucket: string;
  /** Applied to every object before it is written. @default a redactor that only knows token shapes */
  redactor?: Redactor;
  /** Attempts of one conditional write before giving up with `conflict`. @default 20 */
  maxAttempts?: number;
  /** Account of records created without one (the idempotency namespace). @default "default" */
  defaultAccountId?: string;
}

/** Tag on transcript objects; the bucket's lifecycle rule expires objects with it (S3 filters by prefix or tag only). */
export const TRANSCRIPT_TAG = { key: 'deep-agent-kind', value: 'transcript' } as const;

export const SEQ_DIGITS = 10;
export const recordKey = (taskId: string) => `tasks/${taskId}/record.json`;
export const eventsPrefix = (taskId: string) => `tasks/${taskId}/events/`;
export const eventKey = (taskId: string, seq: number) => `${eventsPrefix(taskId)}${String(seq).padStart(SEQ_DIGITS, '0')}.json`;
export const transcriptKey = (taskId: string, name: string) => `tasks/${taskId}/transcript/${name.replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
export const MAX_INDEX_KEYS_PER_PAGE = 1_000;
const MAX_TIME_MS = 9_999_999_999_999;
export const taskIndexPrefix = (accountId: string) => `index/${encodeURIComponent(accountId)}/`;
/** The index key of a task: its account, its inverted creation time, its id. */
export const taskIndexKey = (accountId: string, createdAt: string, id: string) =>
  `${taskIndexPrefix(accountId)}${String(MAX_TIME_MS - Date.parse(createdAt)).padStart(13, '0')}-${id}`;
export const idempotencyKeyOf = (accountId: string, key: string) =>
  `idempotency/${accountId}/${createHash('sha256').update(key).digest('hex')}.json`;

export { isNoSuchKey, isPreconditionFailure, type S3Sender } from './s3-json.js';

/**
 * `TaskStore` on an S3 bucket with conditional writes.
 *
 * @example
 * const store = new S3TaskStore({ s3: new S3Client({}), bucket: config.aws.taskBucket!, redactor });
 * const { record } = await store.create(newTaskRecord({ id, prompt, source: 'http' }));
 */
export class S3TaskStore implements TaskStore {
  private readonly s3: S3Sender;
  readonly bucket: string;
  private readonly redactor: Redactor;
  private readonly maxAttempts: number;
  private readonly defaultAccountId: string;
  /** Highest seq this process has seen per task: a hint for the next append, never trusted alone. */
  private readonly lastSeq = new Map<string, number>();

  constructor(options: S3TaskStoreOptions) {
    this.s3 = options.s3;
    this.bucket = options.bucket;
    this.redactor = options.redactor ?? new Redactor();
    this.maxAttempts = options.maxAttempts ?? 20;
    this.defaultAccountId = options.defaultAccountId ?? 'default';
  }

  async create(record: TaskRecord): Promise<{ record: TaskRecord; created: boolean }> {
    const clean = this.redactor.redact(TaskRecordSchema.parse(record));
    if (clean.idempotencyKey) {
      const key = idempotencyKeyOf(clean.accountId ?? this.defaultAccountId, clean.idempotencyKey);
      const claimed = await this.putJson(key, { taskId: clean.id, createdAt: clean.createdAt }, { ifNoneMatch: true });
      if (!claimed) {
        const existing = await this.recordForIdempotencyKey(key);
        return { record: existing, created: false };
      }
    }
    await this.putJson(taskIndexKey(clean.accountId ?? this.defaultAccountId, clean.createdAt, clean.id), {}, {});
    const created = await this.putJson(recordKey(clean.id), clean, { ifNoneMatch: true });
    if (!created) throw new DeepAgentError('conflict', `task ${clean.id} already exists`);
    return { record: clean, created: true };
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const found = await this.getJson(recordKey(id));
    return found ? TaskRecordSchema.parse(found.value) : undefined;
  }

  async update(id: string, patch: Partial<TaskRecord>): Promise<TaskRecord> {
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const found = await this.getJson(recordKey(id));
      if (!found) throw new DeepAgentError('not_found', `task ${id} does not exist`);
      const current = TaskRecordSchema.parse(found.value);
      // Terminal states are final: a run finishing after a cancel cannot turn `cancelled` into `succeeded`.
      if (leavesTerminalStatus(current, patch)) return current;
      const next = this.redactor.redact(TaskRecordSchema.parse({ ...current, ...patch, id }));
      if (await this.putJson(recordKey(id), next, { ifMatch: found.etag })) return next;
    }
    throw new DeepAgentError('conflict', `task ${id} changed ${this.maxAttempts} times while being updated`);
  }

  async appendEvent(taskId: string, type: EventType, data: Record<string, unknown>): Promise<TaskEvent> {
    let seq = (this.lastSeq.get(taskId) ?? (await this.findLastSeq(taskId))) + 1;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const event = TaskEventSchema.parse({ taskId, seq, ts: new Date().toISOString(), type, data: this.redactor.redact(data) });
      if (await this.putJson(eventKey(taskId, seq), event, { ifNoneMatch: true })) {
        this.lastSeq.set(taskId, Math.max(seq, this.lastSeq.get(taskId) ?? 0));
        return event;
      }
      // Another writer took `seq`: try the next one, and after a few misses stop guessing and list.
      seq = attempt % 3 === 0 ? (await this.findLastSeq(taskId)) + 1 : seq + 1;
    }
    throw new DeepAgentError('conflict', `could not append an event to task ${taskId} after ${this.maxAttempts} attempts`);
  }

  async listEvents(taskId: string, after = 0, limit = 1000): Promise<TaskEvent[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: eventsPrefix(taskId),
          ...(after > 0 && !token ? { StartAfter: eventKey(taskId, after) } : {}),
          ...(token ? { ContinuationToken: token } : {}),
          MaxKeys: Math.min(1000, limit - keys.length),
        }),
      );
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token && keys.length < limit);
    const events: TaskEvent[] = [];
    // Bounded parallel reads: events are small and a page can hold hundreds.
    for (let i = 0; i < keys.length; i += 16) {
      const batch = await Promise.all(keys.slice(i, i + 16).map((k) => this.getJson(k)));
      for (const found of batch) if (found) events.push(TaskEventSchema.parse(found.value));
    }
    return events.sort((a, b) => a.seq - b.seq);
  }

  async listTasks(query: TaskListQuery): Promise<TaskPage> {
    const account = query.accountId || this.defaultAccountId;
    const prefix = taskIndexPrefix(account);
    const after = query.cursor ? decodeTaskCursor(query.cursor) : undefined;
    // Keys at or past this one were created before `since`.
    const stopAt = query.since ? `${taskIndexKey(account, query.since, '')}\uffff` : undefined;
    const tasks: TaskRecord[] = [];
    let scanned = 0;
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ...(token ? { ContinuationToken: token } : after ? { StartAfter: taskIndexKey(account, after.createdAt, after.id) } : {}),
          MaxKeys: Math.min(1_000, query.limit + 1),
        }),
      );
      const all = (page.Contents ?? []).map((o) => o.Key!);
      const keys = stopAt ? all.filter((k) => k < stopAt) : all;
      token = keys.length === all.length && page.IsTruncated ? page.NextContinuationToken : undefined;
      for (let i = 0; i < keys.length; i += 16) {
        const batch = keys.slice(i, i + 16);
        const records = await Promise.all(batch.map((k) => this.get(k.slice(prefix.length + 14))));
        for (const [j, r] of records.entries()) {
          scanned++;
          const keep =
            r !== undefined &&
            (r.accountId ?? this.defaultAccountId) === account &&
            (!query.status || query.status.includes(r.status)) &&
            (!query.source || r.source === query.source);
          if (keep) tasks.push(r);
          if (tasks.length === query.limit || scanned >= MAX_INDEX_KEYS_PER_PAGE) {
            const more = token !== undefined || i + j + 1 < keys.length;
            return { tasks, ...(more ? { nextCursor: this.cursorOfIndexKey(batch[j]!, prefix) } : {}) };
          }
        }
      }
    } while (token);
    return { tasks };
  }

  /** The cursor of an index key: its time and id, so a page can end on a key whose record was skipped. */
  private cursorOfIndexKey(key: string, prefix: string): string {
    const ms = MAX_TIME_MS - Number(key.slice(prefix.length, prefix.length + 13));
    return encodeTaskCursor({ createdAt: new Date(ms).toISOString(), id: key.slice(prefix.length + 14) });
  }

  /** Writes a JSON document under the task's transcript prefix (large step results, transcripts). */
  async putTranscript(taskId: string, name: string, json: string): Promise<string> {
    const key = transcriptKey(taskId, name);
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: this.redactor.redactString(json),
        ContentType: 'application/json',
        Tagging: new URLSearchParams({ [TRANSCRIPT_TAG.key]: TRANSCRIPT_TAG.value }).toString(),
      }),
    );
    return key;
  }

  /** Reads a document written by `putTranscript` (or any JSON object of the bucket); throws `not_found`. */
  async getObjectText(key: string): Promise<string> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await out.Body!.transformToString();
    } catch (e) {
      if (isNoSuchKey(e)) throw new DeepAgentError('not_found', `object ${key} does not exist`);
      throw e;
    }
  }

  /** Writes any JSON document (redacted) without conditions, e.g. an approval's callback id. */
  async putDocument(key: string, value: unknown): Promise<void> {
    await this.putJson(key, value, {});
  }

  /** Creates a JSON document only if the key is free (If-None-Match); false when it already exists. */
  async createDocument(key: string, value: unknown): Promise<boolean> {
    return this.putJson(key, value, { ifNoneMatch: true });
  }

  /** Deletes a document (done with it, e.g. a decided approval); a missing key is not an error. */
  async deleteDocument(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** Reads any JSON document; undefined when missing. */
  async getDocument<T = unknown>(key: string): Promise<T | undefined> {
    return (await this.getJson(key))?.value as T | undefined;
  }

  private async recordForIdempotencyKey(key: string): Promise<TaskRecord> {
    const claim = await this.getJson(key);
    const taskId = (claim?.value as { taskId?: string } | undefined)?.taskId;
    if (!taskId) throw new DeepAgentError('conflict', 'idempotency key is being claimed; retry');
    // The winner writes its record right after claiming the key; give it a moment.
    for (let i = 0; i < 10; i++) {
      const record = await this.get(taskId);
      if (record) return record;
      await new Promise((r) => setTimeout(r, 50 * (i + 1)));
    }
    throw new DeepAgentError('conflict', `idempotency key belongs to task ${taskId}, which is not readable yet; retry`);
  }

  private async findLastSeq(taskId: string): Promise<number> {
    let last = 0;
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: eventsPrefix(taskId), ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const o of page.Contents ?? []) {
        const seq = Number(o.Key?.slice(eventsPrefix(taskId).length, -'.json'.length));
        if (Number.isInteger(seq) && seq > last) last = seq;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return last;
  }

  private getJson(key: string): Promise<{ value: unknown; etag: string } | undefined> {
    return getJsonObject(this.s3, this.bucket, key);
  }

  /** Returns false when the write's condition failed. Secrets are redacted first. */
  private putJson(key: string, value: unknown, cond: WriteCondition): Promise<boolean> {
    return putJsonObject(this.s3, this.bucket, key, this.redactor.redact(value), cond);
  }
}
