/**
 * Deployment settings of the stack: one shape for CDK context (`cdk.json`, `-c`) and for construct props,
 * validated once at synth so a bad value stops `cdk synth` with one clear line.
 */
import * as z from 'zod';
import { DeepAgentError } from '../errors/index.js';
import { BudgetSchema } from '../task/index.js';
import { DEFAULT_MODEL } from '../config/index.js';

/** A recurring task fixed at deploy time (dynamic ones are created through `POST /schedules`). */
export interface StaticScheduleConfig {
  /** Schedule name: letters, digits, `-`, `_`, `.`; at most 48 characters; unique within the stack. */
  readonly name: string;
  /** EventBridge Scheduler expression, e.g. `cron(0 9 ? * MON-FRI *)` or `rate(1 day)`. */
  readonly expression: string;
  /** The task prompt sent to the queue at each run. */
  readonly prompt: string;
  /**
   * IANA time zone of a cron expression.
   * @default 'UTC'
   */
  readonly timezone?: string;
  /**
   * Account the scheduled tasks belong to (as the authorizer would report it).
   * @default - no account: the task is visible to operators only
   */
  readonly accountId?: string;
  /**
   * Budget of each run, as in `POST /tasks`.
   * @default - the agent's default budget
   */
  readonly budget?: { maxSteps?: number; maxCostUsd?: number; deadlineSeconds?: number };
  /**
   * MCP servers to attach, as in `POST /tasks`.
   * @default - the presets whose tokens are set
   */
  readonly mcpServers?: string[];
}

/** Settings of {@link DeepAgentStack}; each can also come from CDK context `deep-agent:<name>`. */
export interface DeepAgentStackConfig {
  /**
   * Model id passed to the agent as `DEEP_AGENT_MODEL`.
   * @default DEFAULT_MODEL of lib/config
   */
  readonly model?: string;
  /**
   * Sandbox of the deployed agent (`DEEP_AGENT_SANDBOX`). Only `e2b` isolates code inside Lambda.
   * @default 'e2b'
   */
  readonly sandbox?: 'e2b';
  /**
   * Longest wall-clock time of one durable agent execution, in minutes (1 minute .. 366 days).
   * @default 1440 (24 hours)
   */
  readonly executionTimeoutMinutes?: number;
  /**
   * Days Lambda keeps a closed durable execution's history (1..90).
   * @default 14
   */
  readonly executionRetentionDays?: number;
  /**
   * CloudWatch Logs retention of every function and of the API access log, in days; one of the values
   * CloudWatch accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, ...).
   * @default 30
   */
  readonly logRetentionDays?: number;
  /**
   * Days after which task transcripts (objects tagged `deep-agent-kind=transcript`) expire.
   * @default 30
   */
  readonly transcriptExpirationDays?: number;
  /**
   * Days after which task records, events and idempotency entries expire; 0 keeps them.
   * @default 0 (kept)
   */
  readonly taskExpirationDays?: number;
  /**
   * Days the S3 server access logs of the task bucket are kept.
   * @default 90
   */
  readonly accessLogExpirationDays?: number;
  /**
   * Deliveries of a task message before it moves to the dead-letter queue (3..1000).
   * @default 3
   */
  readonly maxReceiveCount?: number;
  /**
   * Most tasks running at once (1..1000): the agent function's reserved concurrency, and the bound from
   * which the dispatcher's `maxConcurrency` is derived. Size it to the E2B plan's concurrent sandboxes
   * (Hobby: 20, Pro: 100). Reserved concurrency comes out of the account's unreserved pool, which must keep
   * at least 100: a new account with a lower Lambda concurrency quota must lower this or raise the quota.
   * @default 20
   */
  readonly maxConcurrentTasks?: number;
  /**
   * Model provider of the deployed agent (`DEEP_AGENT_MODEL_PROVIDER`); `bedrock` grants the agent
   * `bedrock:InvokeModel*` and needs no Anthropic key.
   * @default 'anthropic'
   */
  readonly modelProvider?: 'anthropic' | 'bedrock';
  /**
   * E-mail address subscribed to the stack's alarm topic (the topic always exists; subscribe anything else
   * to its ARN, output `AlarmTopicArn`).
   * @default - no e-mail subscription
   */
  readonly alarmEmail?: string;
  /**
   * Minutes between two sweeps of leaked E2B sandboxes (5..1440).
   * @default 15
   */
  readonly sandboxSweepMinutes?: number;
  /**
   * Whether the GITHUB_TOKEN and NOTION_TOKEN of the tokens secret serve every account's tasks. Off, each
   * account installs its own GitHub or Notion connection with its own token (`POST /mcp-connections/install`).
   * @default false
   */
  readonly operatorTokensForTenants?: boolean;
  /**
   * Minutes between two rounds of the MCP connection keeper (1..10: each round extends connection sandboxes
   * by 15 minutes, so a missed round never costs a connection its sandbox).
   * @default 5
   */
  readonly connectionKeeperMinutes?: number;
  /**
   * Recurring tasks created at deploy time.
   * @default []
   */
  readonly schedules?: StaticScheduleConfig[];
}

/** {@link DeepAgentStackConfig} with every default applied. */
export interface ResolvedStackConfig {
  readonly model: string;
  readonly sandbox: 'e2b';
  readonly executionTimeoutMinutes: number;
  readonly executionRetentionDays: number;
  readonly logRetentionDays: number;
  readonly transcriptExpirationDays: number;
  readonly taskExpirationDays: number;
  readonly accessLogExpirationDays: number;
  readonly maxReceiveCount: number;
  readonly maxConcurrentTasks: number;
  readonly modelProvider: 'anthropic' | 'bedrock';
  readonly alarmEmail?: string;
  readonly sandboxSweepMinutes: number;
  readonly operatorTokensForTenants: boolean;
  readonly connectionKeeperMinutes: number;
  readonly schedules: StaticScheduleConfig[];
}

/** Retention values CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const int = (min: number, max: number) => z.number().int().min(min).max(max);

const StaticScheduleSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,48}$/, 'use 1-48 letters, digits, "-", "_" or "."'),
    expression: z.string().regex(/^(cron|rate)\(.+\)$/, 'use cron(...) or rate(...)'),
    prompt: z.string().trim().min(1).max(100_000),
    timezone: z.string().min(1).max(50).optional(),
    accountId: z.string().min(1).max(128).optional(),
    budget: BudgetSchema.optional(),
    mcpServers: z.array(z.string().min(1).max(64)).max(32).optional(),
  })
  .strict();

const StackConfigSchema = z
  .object({
    model: z.string().regex(/^[A-Za-z0-9._:\/-]{1,200}$/, 'use a model id such as claude-sonnet-4-5').default(DEFAULT_MODEL),
    sandbox: z.literal('e2b').default('e2b'),
    executionTimeoutMinutes: int(1, 366 * 24 * 60).default(24 * 60),
    executionRetentionDays: int(1, 90).default(14),
    logRetentionDays: z
      .number()
      .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), `use one of ${LOG_RETENTION_DAYS.join(', ')}`)
      .default(30),
    transcriptExpirationDays: int(1, 3650).default(30),
    taskExpirationDays: int(0, 3650).default(0),
    accessLogExpirationDays: int(1, 3650).default(90),
    maxReceiveCount: int(3, 1000).default(3),
    maxConcurrentTasks: int(1, 1000).default(20),
    modelProvider: z.enum(['anthropic', 'bedrock']).default('anthropic'),
    alarmEmail: z.email().optional(),
    sandboxSweepMinutes: int(5, 1440).default(15),
    operatorTokensForTenants: z.boolean().default(false),
    connectionKeeperMinutes: int(1, 10).default(5),
    schedules: z.array(StaticScheduleSchema).max(100).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    for (const [i, s] of c.schedules.entries()) {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: ['schedules', i, 'name'], message: `duplicate schedule name "${s.name}"` });
      seen.add(s.name);
    }
    if (c.transcriptExpirationDays > 0 && c.taskExpirationDays > 0 && c.taskExpirationDays < c.transcriptExpirationDays) {
      ctx.addIssue({ code: 'custom', path: ['taskExpirationDays'], message: 'must be 0 (kept) or at least transcriptExpirationDays' });
    }
  });

/**
 * Applies defaults and validates; throws one `invalid_input` DeepAgentError naming the bad setting.
 *
 * @example
 * const config = resolveStackConfig({ maxReceiveCount: 5 });
 */
export function resolveStackConfig(input: DeepAgentStackConfig = {}): ResolvedStackConfig {
  const parsed = StackConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : 'config';
    throw new DeepAgentError('invalid_input', `deep-agent stack setting ${where} is invalid: ${issue.message}.`);
  }
  return parsed.data as ResolvedStackConfig;
}

/** Context keys read by {@link configFromContext}, as `deep-agent:<key>`. */
export const CONTEXT_KEYS = [
  'model',
  'sandbox',
  'executionTimeoutMinutes',
  'executionRetentionDays',
  'logRetentionDays',
  'transcriptExpirationDays',
  'taskExpirationDays',
  'accessLogExpirationDays',
  'maxReceiveCount',
  'maxConcurrentTasks',
  'modelProvider',
  'alarmEmail',
  'sandboxSweepMinutes',
  'operatorTokensForTenants',
  'connectionKeeperMinutes',
  'schedules',
] as const satisfies readonly (keyof DeepAgentStackConfig)[];

const NUMERIC_KEYS = new Set<string>([
  'executionTimeoutMinutes',
  'executionRetentionDays',
  'logRetentionDays',
  'transcriptExpirationDays',
  'taskExpirationDays',
  'accessLogExpirationDays',
  'maxReceiveCount',
  'maxConcurrentTasks',
  'sandboxSweepMinutes',
  'connectionKeeperMinutes',
]);

/**
 * Reads `deep-agent:<key>` context values (from `cdk.json` or `-c key=value`; `-c` gives strings, so
 * numbers and the schedules JSON are parsed here). Validation happens in {@link resolveStackConfig}.
 *
 * @example
 * const config = configFromContext((key) => app.node.tryGetContext(key));
 */
export function configFromContext(get: (key: string) => unknown): DeepAgentStackConfig {
  const out: Record<string, unknown> = {};
  for (const key of CONTEXT_KEYS) {
    let value = get(`deep-agent:${key}`);
    if (value === undefined || value === null || value === '') continue;
    if (typeof value === 'string' && NUMERIC_KEYS.has(key) && /^-?\d+(\.\d+)?$/.test(value.trim())) value = Number(value);
    if (typeof value === 'string' && key === 'operatorTokensForTenants' && /^(true|false)$/.test(value.trim())) value = value.trim() === 'true';
    if (typeof value === 'string' && key === 'schedules') {
      try {
        value = JSON.parse(value);
      } catch {
        throw new DeepAgentError('invalid_input', 'deep-agent stack setting schedules is invalid: context deep-agent:schedules is not JSON.');
      }
    }
    out[key] = value;
  }
  return out as DeepAgentStackConfig;
}
