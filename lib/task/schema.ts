/**
 * Wire shapes of tasks and events (DESIGN section 3). zod schemas are the single source of truth; types are
 * inferred from them.
 */
import * as z from 'zod';
import { isValidAllowedDomainEntry } from '@anthropic-ai/sandbox-runtime/dist/sandbox/domain-pattern.js';

export const TASK_STATUSES = ['queued', 'running', 'waiting_approval', 'succeeded', 'failed', 'cancelled'] as const;
export const TaskStatusSchema = z.enum(TASK_STATUSES);
export type TaskStatus = z.infer<typeof TaskStatusSchema>;

/** Statuses after which a task never changes again. */
export const TERMINAL_STATUSES: readonly TaskStatus[] = ['succeeded', 'failed', 'cancelled'];
export const isTerminal = (s: TaskStatus): boolean => TERMINAL_STATUSES.includes(s);

/**
 * True when `patch` would move a finished task to another status. Every store refuses such a patch (and
 * returns the record unchanged), so terminal states are final; patches that keep the status still apply.
 *
 * @example
 * leavesTerminalStatus({ status: 'cancelled' }, { status: 'succeeded' }); // true
 */
export function leavesTerminalStatus(current: { status: TaskStatus }, patch: { status?: TaskStatus }): boolean {
  return isTerminal(current.status) && patch.status !== undefined && patch.status !== current.status;
}

export const TaskSourceSchema = z.enum(['cli', 'http', 'sqs', 'schedule']);
export type TaskSource = z.infer<typeof TaskSourceSchema>;

export const PlanItemSchema = z.object({
  content: z.string().min(1).max(2_000),
  status: z.enum(['pending', 'in_progress', 'completed']),
});
export type PlanItem = z.infer<typeof PlanItemSchema>;

export const UsageSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  cacheReadTokens: z.number().int().nonnegative(),
  cacheWriteTokens: z.number().int().nonnegative(),
  costUsd: z.number().nonnegative(),
});
export type Usage = z.infer<typeof UsageSchema>;
export const emptyUsage = (): Usage => ({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 });
export function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    costUsd: Math.round((a.costUsd + b.costUsd) * 1e6) / 1e6,
  };
}

export const BudgetSchema = z
  .object({
    maxSteps: z.number().int().positive().max(10_000).optional(),
    maxCostUsd: z.number().positive().max(10_000).optional(),
    deadlineSeconds: z.number().int().positive().max(7 * 24 * 3600).optional(),
  })
  .strict();
export type Budget = z.infer<typeof BudgetSchema>;


/** One host pattern of an allowlist, as `network.allow` takes it (the sandbox-runtime's patterns). */
const HostPatternSchema = z
  .string()
  .trim()
  .toLowerCase()
  .min(1)
  .max(260)
  .refine(isValidAllowedDomainEntry, { message: 'must be a host such as "pkg.example.org", "*.cdn.example.org" or "api.example.com:443" ("*" and "*.com" are too broad)' });

/**
 * A task's egress allowlist: hosts (`pkg.example.org`), `*.domain`, `host:port`; it bounds every command of the
 * task (`run_command`'s `network: true` becomes this list). The patterns are the sandbox-runtime's.
 */
export const TaskNetworkSchema = z.object({ allow: z.array(HostPatternSchema).max(100) }).strict();
export type TaskNetwork = z.infer<typeof TaskNetworkSchema>;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/**
 * Variables a task secret may not take: the sandbox sets them itself (its PATH and HOME, the egress proxy and the
 * CA bundles its commands trust), and a sentinel there would break the command or the proxy.
 */
const RESERVED_SECRET_ENV = new Set(
  ['PATH', 'HOME', 'LANG', 'TERM', 'PWD', 'SHELL', 'USER', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY',
    'NODE_USE_ENV_PROXY', 'NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'CURL_CA_BUNDLE', 'REQUESTS_CA_BUNDLE', 'GIT_SSL_CAINFO', 'PIP_CERT'],
);

/**
 * A credential the account already holds, given to the task's sandbox masked: `env` holds a sentinel inside,
 * and the value of the connection's credential `field` is put in only on egress to `hosts` (as
 * `DEEP_AGENT_SANDBOX_SECRETS` does for the operator's own variables). Only names are recorded, never a value.
 *
 * @example
 * { env: 'GITHUB_TOKEN', connection: 'mcpc_0123456789abcdef0123', field: 'GITHUB_PERSONAL_ACCESS_TOKEN', hosts: ['github.com', 'api.github.com'] }
 */
export const TaskSecretSchema = z
  .object({
    /** The environment variable inside the sandbox. */
    env: z
      .string()
      .max(128)
      .regex(ENV_NAME, 'must be an environment variable name (letters, digits and _, not starting with a digit)')
      .refine((n) => !RESERVED_SECRET_ENV.has(n.toUpperCase()), { message: 'is set by the sandbox itself; pick another variable name' }),
    /** The id of one of the account's MCP connections (`GET /mcp-connections`), whose stored credential is used. */
    connection: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a connection id such as "mcpc_..." (GET /mcp-connections lists them)'),
    /** Which credential field of the connection; optional when it holds exactly one. */
    field: z.string().max(128).regex(ENV_NAME, 'must be a credential field name, as the connection lists it in credentialFields').optional(),
    /** Where the value may go: host patterns as `network.allow` takes them. */
    hosts: z.array(HostPatternSchema).min(1, 'list at least one host the value may be sent to').max(20),
    /**
     * On E2B, the header the value is injected as (`Header-Name: <value>`); without it `Authorization: Bearer
     * <value>`. Locally the sentinel is swapped wherever it appears, so it changes nothing there.
     */
    header: z.string().max(128).regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name').optional(),
  })
  .strict();
export type TaskSecret = z.infer<typeof TaskSecretSchema>;

export const TaskSecretsSchema = z
  .array(TaskSecretSchema)
  .max(16)
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((s, i) => {
      if (seen.has(s.env)) ctx.addIssue({ code: 'custom', message: `${s.env} is named twice`, path: [i, 'env'] });
      seen.add(s.env);
    });
  });

export const ErrorInfoSchema = z.object({ code: z.string(), message: z.string() });
export type ErrorInfo = z.infer<typeof ErrorInfoSchema>;

export const TaskRecordSchema = z.object({
  id: z.string(),
  prompt: z.string(),
  status: TaskStatusSchema,
  source: TaskSourceSchema,
  accountId: z.string().optional(),
  idempotencyKey: z.string().optional(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  attempts: z.number().int().nonnegative(),
  plan: z.array(PlanItemSchema),
  result: z.object({ text: z.string() }).optional(),
  error: ErrorInfoSchema.optional(),
  usage: UsageSchema,
  steps: z.number().int().nonnegative(),
  budget: BudgetSchema.optional(),
  mcpServers: z.array(z.string()).optional(),
  network: TaskNetworkSchema.optional(),
  /** The account credentials its sandbox holds masked: names only (env, connection, field, hosts), never a value. */
  secrets: TaskSecretsSchema.optional(),
  /** AWS runtime: the durable execution running the task, so cancel stops exactly that one. */
  durableExecutionArn: z.string().optional(),
  /** Sandboxes the task created (provider ids), written when one is created, so cancel and a sweeper can kill them. */
  sandboxIds: z.array(z.string()).optional(),
  /**
   * Sandboxes the task owns besides its own, by resource (`mcp-gateway`: the E2B MCP gateway), written inside
   * the step that created them, so a replay reconnects and a failed execution's cleanup kills them.
   */
  resourceSandboxIds: z.record(z.string(), z.string()).optional(),
});
export type TaskRecord = z.infer<typeof TaskRecordSchema>;

/** Body of `POST /tasks` (and of an SQS task message). */
export const SubmitTaskSchema = z
  .object({
    prompt: z.string().trim().min(1).max(100_000),
    idempotencyKey: z.string().min(1).max(128).optional(),
    budget: BudgetSchema.optional(),
    mcpServers: z.array(z.string().min(1).max(64)).max(32).optional(),
    network: TaskNetworkSchema.optional(),
    secrets: TaskSecretsSchema.optional(),
  })
  .strict();
export type SubmitTask = z.infer<typeof SubmitTaskSchema>;

/** Largest page of `GET /tasks`. */
export const MAX_TASK_PAGE = 100;

/** The query of `GET /tasks`: strings from a URL, checked and turned into a store query. */
export const TaskListParamsSchema = z
  .object({
    status: z
      .string()
      .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
      .pipe(z.array(TaskStatusSchema).min(1))
      .optional(),
    source: TaskSourceSchema.optional(),
    since: z
      .string()
      .refine((s) => !Number.isNaN(Date.parse(s)), { message: 'since must be an ISO date or time' })
      .transform((s) => new Date(s).toISOString())
      .optional(),
    limit: z
      .string()
      .regex(/^\d{1,3}$/, { message: `limit must be a whole number from 1 to ${MAX_TASK_PAGE}` })
      .transform(Number)
      .pipe(z.number().int().min(1, { message: `limit must be a whole number from 1 to ${MAX_TASK_PAGE}` }).max(MAX_TASK_PAGE, { message: `limit must be a whole number from 1 to ${MAX_TASK_PAGE}` }))
      .default(20),
    cursor: z.string().min(1).max(1_024).optional(),
  })
  .strict();

/** Fields of a recurring task (`POST /schedules`); runtimes check the cron or rate syntax themselves. */
export const ScheduleFieldsSchema = z
  .object({
    cron: z.string().trim().min(1).max(256).optional(),
    rate: z.string().trim().min(1).max(64).optional(),
    prompt: z.string().trim().min(1).max(100_000),
    timezone: z.string().min(1).max(64).optional(),
    budget: BudgetSchema.optional(),
    mcpServers: z.array(z.string().min(1).max(64)).max(32).optional(),
  })
  .strict();

const oneOfCronOrRate = (v: { cron?: string; rate?: string }) => (v.cron === undefined) !== (v.rate === undefined);

/** Body of `POST /schedules`: exactly one of `cron` or `rate`. */
export const ScheduleBodySchema = ScheduleFieldsSchema.refine(oneOfCronOrRate, { message: 'give exactly one of cron or rate' });
export type ScheduleBody = z.infer<typeof ScheduleBodySchema>;

export const EVENT_TYPES = [
  'task.queued',
  'task.started',
  'plan.updated',
  'model.response',
  'tool.called',
  'tool.result',
  'approval.requested',
  'approval.resolved',
  'subagent.started',
  'subagent.finished',
  'context.compacted',
  'task.retrying',
  'task.succeeded',
  'task.failed',
  'task.cancelled',
] as const;
export const EventTypeSchema = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventTypeSchema>;

const EndSchema = z.looseObject({ error: ErrorInfoSchema.optional(), usage: UsageSchema.optional(), steps: z.number().optional() });

/**
 * The `data` of each event type: what the CLI, the dashboard and the S3 log may rely on. Loose objects, so a
 * writer can add fields without breaking readers.
 */
export const EventDataSchemas = {
  'task.queued': z.looseObject({ source: TaskSourceSchema.optional() }),
  'task.started': z.looseObject({
    model: z.string().optional(),
    provider: z.string().optional(),
    sandbox: z.string().optional(),
    tools: z.array(z.string()).optional(),
    /** The variables the task's sandbox holds masked (its `secrets`), by name. */
    secrets: z.array(z.string()).optional(),
  }),
  'plan.updated': z.looseObject({ plan: z.array(PlanItemSchema) }),
  'model.response': z.looseObject({
    agent: z.string(),
    turn: z.number(),
    model: z.string().optional(),
    stopReason: z.string().nullish(),
    usage: UsageSchema.partial().optional(),
    toolCalls: z.array(z.string()).optional(),
    text: z.string().optional(),
  }),
  'tool.called': z.looseObject({ id: z.string(), name: z.string(), input: z.unknown() }),
  'tool.result': z.looseObject({ id: z.string(), name: z.string(), ok: z.boolean(), durationMs: z.number(), output: z.string().optional() }),
  'approval.requested': z.looseObject({ approvalId: z.string(), tool: z.string(), input: z.unknown(), reason: z.string() }),
  'approval.resolved': z.looseObject({ approvalId: z.string(), tool: z.string(), approve: z.boolean(), reason: z.string().optional() }),
  'subagent.started': z.looseObject({ id: z.string(), description: z.string() }),
  'subagent.finished': z.looseObject({ id: z.string(), ok: z.boolean(), answer: z.string().optional(), error: ErrorInfoSchema.optional() }),
  'context.compacted': z.looseObject({ agent: z.string().optional(), elidedToolResults: z.number().optional() }),
  'task.retrying': z.looseObject({ scope: z.string().optional(), attempt: z.number().optional(), status: z.number().optional(), delayMs: z.number().optional() }),
  'task.succeeded': EndSchema,
  'task.failed': EndSchema,
  'task.cancelled': EndSchema,
} satisfies Record<EventType, z.ZodType>;
export type EventData<T extends EventType> = z.infer<(typeof EventDataSchemas)[T]>;
/** An event whose `data` was checked against its type's schema. */
export type TypedTaskEvent = { [K in EventType]: Omit<TaskEvent, 'type' | 'data'> & { type: K; data: EventData<K> } }[EventType];

/**
 * Checks an event's data against its type's schema; undefined when it does not fit (an older or foreign writer).
 *
 * @example
 * const e = typedEvent(event);
 * if (e?.type === 'tool.result') console.log(e.data.durationMs);
 */
export function typedEvent(event: TaskEvent): TypedTaskEvent | undefined {
  const r = EventDataSchemas[event.type]?.safeParse(event.data);
  return r?.success ? ({ ...event, data: r.data } as TypedTaskEvent) : undefined;
}

export const TaskEventSchema = z.object({
  taskId: z.string(),
  seq: z.number().int().positive(),
  ts: z.string(),
  type: EventTypeSchema,
  data: z.record(z.string(), z.unknown()),
});
export type TaskEvent = z.infer<typeof TaskEventSchema>;

/** Creates a fresh queued record. */
export function newTaskRecord(input: SubmitTask & { id: string; source: TaskSource; accountId?: string; now?: Date }): TaskRecord {
  return {
    id: input.id,
    prompt: input.prompt,
    status: 'queued',
    source: input.source,
    ...(input.accountId ? { accountId: input.accountId } : {}),
    ...(input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : {}),
    createdAt: (input.now ?? new Date()).toISOString(),
    attempts: 0,
    plan: [],
    usage: emptyUsage(),
    steps: 0,
    ...(input.budget ? { budget: input.budget } : {}),
    ...(input.mcpServers ? { mcpServers: input.mcpServers } : {}),
    ...(input.network ? { network: input.network } : {}),
    ...(input.secrets?.length ? { secrets: input.secrets } : {}),
  };
}

/** A tool call that waits for a person, and the person's answer (both cross the wire and the journal). */
export interface ApprovalRequest {
  approvalId: string;
  taskId: string;
  tool: string;
  input: unknown;
  reason: string;
}

export interface ApprovalDecision {
  approve: boolean;
  reason?: string;
}
