/**
 * Recurring tasks on EventBridge Scheduler: each schedule sends a task message (source "schedule") to the task
 * queue, with a retry policy and a dead-letter queue, in the stack's schedule group.
 */
import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ListSchedulesCommand,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { randomUUID } from 'node:crypto';
import { DeepAgentError } from '../errors/index.js';
import { ScheduleBodySchema, type ScheduleBody } from '../task/index.js';
import { formatTaskMessage, TaskMessageSchema } from './task-message.js';

export type SchedulerSender = Pick<SchedulerClient, 'send'>;

/** Retry policy of every schedule, static (lib/infra) and dynamic (`POST /schedules`) alike. */
export const SCHEDULE_RETRY = { maximumRetryAttempts: 5, maximumEventAgeInSeconds: 3600 } as const;

/** EventBridge Scheduler replaces this in a target's input with the id of the firing (the same on its retries). */
export const SCHEDULER_EXECUTION_ID = '<aws.scheduler.execution-id>';

/**
 * The idempotency key of one firing of a schedule: a retried delivery of the same firing carries the same
 * key, so it lands on the same task instead of starting a second one.
 *
 * @example
 * scheduleIdempotencyKey('daily-triage'); // 'schedule-daily-triage-<aws.scheduler.execution-id>'
 */
export function scheduleIdempotencyKey(scheduleName: string): string {
  return `schedule-${scheduleName}-${SCHEDULER_EXECUTION_ID}`;
}

export const ScheduleInputSchema = ScheduleBodySchema;
export type ScheduleInput = ScheduleBody;

export interface ScheduleInfo {
  id: string;
  expression: string;
  timezone?: string;
  prompt: string;
  state: string;
  accountId?: string;
}

export interface EventBridgeSchedulesOptions {
  groupName: string;
  queueArn: string;
  roleArn: string;
  dlqArn: string;
  /** @default SCHEDULE_RETRY.maximumRetryAttempts (5) */
  maxRetryAttempts?: number;
  /** @default SCHEDULE_RETRY.maximumEventAgeInSeconds (3600) */
  maxEventAgeSeconds?: number;
}

const DOW: Record<string, string> = { SUN: '1', MON: '2', TUE: '3', WED: '4', THU: '5', FRI: '6', SAT: '7' };

/**
 * A 5-field Unix cron (`m h dom mon dow`, Sunday = 0) as EventBridge's 6-field form (`cron(m h dom mon dow year)`,
 * Sunday = 1, `?` in one day field). `cron(...)` and `rate(...)` expressions pass through.
 *
 * @example
 * toScheduleExpression({ cron: '0 9 * * 1-5' }); // 'cron(0 9 ? * 2-6 *)'
 * toScheduleExpression({ rate: '15 minutes' });  // 'rate(15 minutes)'
 */
export function toScheduleExpression(input: { cron?: string; rate?: string }): string {
  if (input.rate !== undefined) {
    const r = input.rate.trim();
    if (/^rate\(\d+ (minute|minutes|hour|hours|day|days)\)$/.test(r)) return r;
    const m = /^(\d+)\s*(m|min|mins|minute|minutes|h|hour|hours|d|day|days)$/i.exec(r);
    if (!m || Number(m[1]) < 1) throw new DeepAgentError('invalid_input', `rate "${r}" is not like "15 minutes", "2 hours" or "1 day"`);
    const n = Number(m[1]);
    const unit = m[2]!.toLowerCase().startsWith('m') ? 'minute' : m[2]!.toLowerCase().startsWith('h') ? 'hour' : 'day';
    return `rate(${n} ${unit}${n === 1 ? '' : 's'})`;
  }
  const c = (input.cron ?? '').trim();
  if (/^cron\(.+\)$/.test(c)) return c;
  const f = c.split(/\s+/);
  if (f.length !== 5) throw new DeepAgentError('invalid_input', `cron "${c}" must have 5 fields: minute hour day-of-month month day-of-week`);
  const [min, hour, dom, mon, dow] = f as [string, string, string, string, string];
  const awsDow = dow
    .toUpperCase()
    .replace(/\d+/g, (d) => String((Number(d) % 7) + 1))
    .replace(/\b(SUN|MON|TUE|WED|THU|FRI|SAT)\b/g, (d) => DOW[d]!);
  if (dow === '*') return `cron(${min} ${hour} ${dom} ${mon} ? *)`;
  if (dom !== '*') throw new DeepAgentError('invalid_input', `cron "${c}": EventBridge cannot restrict both day-of-month and day-of-week`);
  return `cron(${min} ${hour} ? ${mon} ${awsDow} *)`;
}

/**
 * Schedules in one EventBridge Scheduler group.
 *
 * @example
 * const schedules = new EventBridgeSchedules(new SchedulerClient({}), { groupName, queueArn, roleArn, dlqArn });
 * const s = await schedules.create({ cron: '0 9 * * 1', prompt: 'weekly report' }, 'acct-1');
 */
export class EventBridgeSchedules {
  constructor(
    private readonly client: SchedulerSender,
    private readonly options: EventBridgeSchedulesOptions,
  ) {}

  async create(input: ScheduleInput, accountId?: string): Promise<ScheduleInfo> {
    const parsed = ScheduleInputSchema.safeParse(input);
    if (!parsed.success) throw new DeepAgentError('invalid_input', `schedule: ${parsed.error.issues[0]!.message}`);
    const v = parsed.data;
    const id = `sch-${randomUUID()}`;
    const expression = toScheduleExpression(v);
    const message = formatTaskMessage({
      prompt: v.prompt,
      source: 'schedule',
      idempotencyKey: scheduleIdempotencyKey(id),
      ...(accountId ? { accountId } : {}),
      ...(v.budget ? { budget: v.budget } : {}),
      ...(v.mcpServers ? { mcpServers: v.mcpServers } : {}),
    });
    await this.client.send(
      new CreateScheduleCommand({
        Name: id,
        GroupName: this.options.groupName,
        ScheduleExpression: expression,
        ...(v.timezone ? { ScheduleExpressionTimezone: v.timezone } : {}),
        FlexibleTimeWindow: { Mode: 'OFF' },
        State: 'ENABLED',
        Description: v.prompt.slice(0, 512),
        Target: {
          Arn: this.options.queueArn,
          RoleArn: this.options.roleArn,
          Input: message,
          RetryPolicy: {
            MaximumRetryAttempts: this.options.maxRetryAttempts ?? SCHEDULE_RETRY.maximumRetryAttempts,
            MaximumEventAgeInSeconds: this.options.maxEventAgeSeconds ?? SCHEDULE_RETRY.maximumEventAgeInSeconds,
          },
          DeadLetterConfig: { Arn: this.options.dlqArn },
        },
      }),
    );
    return { id, expression, ...(v.timezone ? { timezone: v.timezone } : {}), prompt: v.prompt, state: 'ENABLED', ...(accountId ? { accountId } : {}) };
  }

  /** Throws `not_found` for an unknown id (or another account's schedule). */
  async get(id: string, accountId?: string): Promise<ScheduleInfo> {
    let out;
    try {
      out = await this.client.send(new GetScheduleCommand({ Name: id, GroupName: this.options.groupName }));
    } catch (e) {
      if ((e as { name?: string }).name === 'ResourceNotFoundException') throw new DeepAgentError('not_found', `schedule ${id} does not exist`);
      throw e;
    }
    const message = TaskMessageSchema.safeParse(JSON.parse(out.Target?.Input ?? '{}'));
    const info: ScheduleInfo = {
      id,
      expression: out.ScheduleExpression ?? '',
      ...(out.ScheduleExpressionTimezone ? { timezone: out.ScheduleExpressionTimezone } : {}),
      prompt: message.success ? message.data.prompt : '',
      state: out.State ?? 'UNKNOWN',
      ...(message.success && message.data.accountId ? { accountId: message.data.accountId } : {}),
    };
    if (accountId && info.accountId !== accountId) throw new DeepAgentError('not_found', `schedule ${id} does not exist`);
    return info;
  }

  /** The account's schedules (all when no account is given). */
  async list(accountId?: string): Promise<ScheduleInfo[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListSchedulesCommand({ GroupName: this.options.groupName, ...(token ? { NextToken: token } : {}) }));
      for (const s of page.Schedules ?? []) if (s.Name) names.push(s.Name);
      token = page.NextToken;
    } while (token);
    const out: ScheduleInfo[] = [];
    for (const name of names) {
      try {
        out.push(await this.get(name, accountId));
      } catch (e) {
        if ((e as { code?: string }).code !== 'not_found') throw e;
      }
    }
    return out;
  }

  async delete(id: string, accountId?: string): Promise<void> {
    await this.get(id, accountId);
    await this.client.send(new DeleteScheduleCommand({ Name: id, GroupName: this.options.groupName }));
  }
}
