/**
 * The local service that `deep-agent serve` runs: the HTTP app on 127.0.0.1, the queue worker and the
 * scheduler, all on one SQLite file under DEEP_AGENT_HOME.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ApprovalPolicy, RunTaskOptions } from '../agent/index.js';
import { defaultSettings, type ServeSettings } from '../config/index.js';
import { DeepAgentError } from '../errors/index.js';
import type { createHttpApp, LiveEventOptions } from '../http/index.js';
import type { Clock } from './database.js';
import { scheduleSlotKey, Scheduler } from './scheduler.js';
import { openLocalStorage, type LocalStorage } from './storage.js';
import type { McpOAuthBackend } from '../mcp/index.js';
import type { ModelClient } from '../model/index.js';
import type { SandboxProvider } from '../sandbox/index.js';
import { Redactor } from '../secrets/index.js';
import { resolveTaskSecrets, TaskService, type AccountCredentials, type McpConnectionBackend, type ScheduleBackend } from '../task/index.js';
import { observeEvents, TaskEventNotifier, type TaskStore } from '../task/index.js';
import { isTerminal, type TaskEvent, type TaskRecord } from '../task/index.js';
import type { Tool } from '../tools/index.js';
import { TaskWorker } from './worker.js';

/** The one account of a local service: every token holder is the machine's owner. */
export const LOCAL_ACCOUNT = 'local';
export const API_TOKEN_FILE = 'api-token';

/** The worker's settings, from the `serve` section of the configuration (`config.serve`). */
export type WorkerSettings = Pick<ServeSettings, 'concurrency' | 'visibilityTimeoutSeconds' | 'maxAttempts' | 'retryDelaySeconds'>;

/**
 * The API token: `configured` (DEEP_AGENT_API_TOKEN) when given, else `<home>/api-token`, generated (mode 0600)
 * on first use.
 *
 * @example
 * const { token, file } = ensureApiToken(config.home, config.apiToken);
 */
export function ensureApiToken(home: string, configured?: string): { token: string; file?: string } {
  if (configured) return { token: configured };
  const file = join(home, API_TOKEN_FILE);
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token) return { token, file };
  }
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, file };
}

/** The token a CLI client uses: DEEP_AGENT_API_TOKEN, else the local token file when it exists. */
export function readApiToken(home: string, configured?: string): string | undefined {
  if (configured) return configured;
  const file = join(home, API_TOKEN_FILE);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}

export interface LocalServiceOptions {
  home: string;
  token: string;
  model: ModelClient;
  sandboxProvider: SandboxProvider;
  tools?: Tool[];
  /** The assembly's one approval policy (lib/assembly), used as given. */
  approvalPolicy?: ApprovalPolicy;
  /** Per-task tools/instructions (`serve` passes its assembled agent's `taskOptions(record.mcpServers)`). */
  taskOptions?(record: TaskRecord): Partial<Pick<RunTaskOptions, 'tools' | 'latestTools' | 'approvalPolicy' | 'instructions' | 'startInfo' | 'resources'>>;
  /** @default the defaults of the `serve` section of the configuration schema */
  settings?: Partial<WorkerSettings>;
  /** @default 8787; 0 picks a free port */
  port?: number;
  /** Only loopback makes sense for a single-machine service. @default 127.0.0.1 */
  hostname?: string;
  redactor?: Redactor;
  secretKey?: string;
  /** Drives queue, schedules and the scheduler (tests). @default Date.now */
  clock?: Clock;
  /** Scheduler tick interval; 0 disables the background ticks (tests call `scheduler.tick()`). @default 1000 */
  schedulerIntervalMs?: number;
  /** Worker poll interval. @default 200 */
  pollIntervalMs?: number;
  /** Called with each event written by the worker (progress, benchmarks). */
  onEvent?(event: TaskEvent): void;
  /** Poll and heartbeat intervals of live event readers (tests, benchmarks). */
  liveEvents?: Pick<LiveEventOptions, 'fallbackPollMs' | 'heartbeatMs'>;
  /** Errors of the service itself (never of tasks). */
  onError?(error: unknown): void;
  mcpConnections?: McpConnectionBackend;
  /**
   * The account's stored credentials (the connection manager): a task's `secrets` are checked against them at
   * submit and read from them when it runs. @default none: a task with secrets is refused (400)
   */
  credentials?: AccountCredentials;
  /** OAuth logins of remote MCP servers over HTTP (`POST /mcp-connections/{id}/oauth/start`, `GET /oauth/callback`). */
  mcpOAuth?: McpOAuthBackend;
}

export interface LocalService {
  url: string;
  port: number;
  storage: LocalStorage;
  service: TaskService;
  worker: TaskWorker;
  scheduler: Scheduler;
  app: ReturnType<typeof createHttpApp>;
  /** Stops accepting requests and work; in-flight tasks finish within `graceMs` or are released for the next start. */
  stop(graceMs?: number): Promise<{ released: string[] }>;
}

/** Local schedules on the SQLite schedule table (one account). */
function localSchedules(storage: LocalStorage): ScheduleBackend {
  const strip = <T extends { lastSlot?: number }>(s: T) => {
    const { lastSlot, ...rest } = s;
    return { ...rest, ...(lastSlot !== undefined ? { lastFiredSlot: new Date(lastSlot).toISOString() } : {}) };
  };
  return {
    create: (input) => storage.schedules.create(input),
    list: () => storage.schedules.list().map(strip),
    delete: (id) => storage.schedules.delete(id),
  };
}

/**
 * Opens storage, starts the worker, the scheduler and the HTTP server on 127.0.0.1.
 *
 * @example
 * const svc = await startLocalService({ home, token, model, sandboxProvider, port: 0 });
 * await fetch(`${svc.url}/tasks`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ prompt: 'hi' }) });
 * await svc.stop();
 */
export async function startLocalService(options: LocalServiceOptions): Promise<LocalService> {
  const settings: WorkerSettings = { ...defaultSettings('serve'), ...options.settings };
  // One redactor for every write; it also learns the values of the tasks' secrets when they run.
  const redactor = options.redactor ?? new Redactor();
  const storage = openLocalStorage(options.home, {
    redactor,
    ...(options.secretKey ? { secretKey: options.secretKey } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    maxReceiveCount: settings.maxAttempts,
  });
  // Every write of this process (worker, service) goes through `store`: live readers wake at once; writes of
  // other processes on the same file (a CLI `run`) are seen by the readers' slow fallback poll.
  const notifier = new TaskEventNotifier();
  const store: TaskStore = observeEvents(storage.tasks, (event) => {
    notifier.publish(event);
    options.onEvent?.(event);
  });
  const logDir = join(options.home, 'logs');

  const worker = new TaskWorker({
    storage,
    store,
    model: options.model,
    sandboxProvider: options.sandboxProvider,
    tools: options.tools ?? [],
    ...(options.approvalPolicy ? { approvalPolicy: options.approvalPolicy } : {}),
    ...(options.taskOptions ? { taskOptions: options.taskOptions } : {}),
    ...(options.credentials ? { taskSecrets: (record: TaskRecord) => resolveTaskSecrets(record, options.credentials!, redactor) } : {}),
    concurrency: settings.concurrency,
    visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds,
    retryDelaySeconds: settings.retryDelaySeconds,
    pollIntervalMs: options.pollIntervalMs ?? 200,
    ...(options.onError ? { onError: options.onError } : {}),
    onTaskDone: async (taskId) => {
      await storage.tasks.exportTaskLog(taskId, logDir).catch((e) => options.onError?.(e));
    },
  });

  const service = new TaskService({
    store,
    queue: {
      send: ({ taskId }) => {
        storage.queue.send({ taskId });
        worker.wake();
      },
    },
    approvals: {
      resolve: async (taskId, approvalId, decision) => {
        if (storage.approvals.getApproval(approvalId)?.taskId !== taskId) throw new DeepAgentError('not_found', `approval ${approvalId} does not exist on task ${taskId}`);
        const approval = storage.approvals.resolveApproval(approvalId, decision);
        // The task was parked when it asked: queue it again, and the worker resumes it from the journal.
        const record = await store.get(approval.taskId);
        if (record && !isTerminal(record.status)) worker.resume(approval.taskId);
        return approval;
      },
    },
    schedules: localSchedules(storage),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    // A task not running here (parked for an approval, or between attempts) has no run left to record its end.
    onCancel: (taskId) => (worker.cancel(taskId) ? undefined : worker.settleCancelled(taskId)),
  });

  const scheduler = new Scheduler(storage.db, {
    ...(options.clock ? { clock: options.clock } : {}),
    onFire: async (schedule, slot) => {
      await service.submit(
        LOCAL_ACCOUNT,
        {
          prompt: schedule.prompt,
          idempotencyKey: scheduleSlotKey(schedule.id, slot),
          ...(schedule.budget ? { budget: schedule.budget } : {}),
          ...(schedule.mcpServers ? { mcpServers: schedule.mcpServers } : {}),
        },
        'schedule',
      );
    },
    ...(options.onError ? { onError: (e: unknown) => options.onError!(e) } : {}),
  });

  // Loaded here, not at the top: `deep-agent run` imports this folder and should not load an HTTP server.
  const { bearerTokenAuth, createHttpApp, listenHttpApp } = await import('../http/index.js');
  const app = createHttpApp({
    service,
    authenticate: bearerTokenAuth(options.token, LOCAL_ACCOUNT),
    ...(options.mcpConnections ? { mcpConnections: options.mcpConnections } : {}),
    ...(options.mcpOAuth ? { mcpOAuth: options.mcpOAuth } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
    liveEvents: { streaming: true, notifier, ...options.liveEvents },
  });

  const hostname = options.hostname ?? '127.0.0.1';
  const server = await listenHttpApp(app, { port: options.port ?? 8787, hostname }).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'EADDRINUSE' ? new DeepAgentError('conflict', `port ${options.port} on ${hostname} is already in use; pick another with --port`) : e;
  });
  const port = (server.address() as AddressInfo).port;

  worker.start();
  const interval = options.schedulerIntervalMs ?? 1_000;
  if (interval > 0) scheduler.start({ intervalMs: interval });

  let stopped: Promise<{ released: string[] }> | undefined;
  return {
    url: `http://${hostname}:${port}`,
    port,
    storage,
    service,
    worker,
    scheduler,
    app,
    stop: (graceMs = 10_000) =>
      (stopped ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        });
        await scheduler.stop();
        const { released } = await worker.stop(graceMs);
        storage.close();
        return { released };
      })()),
  };
}
