/**
 * The library API: `createAgent(options)` returns an agent whose `invoke(task)` runs a task to its end and
 * returns the task record. The agent is disposable (`await using`), and every run kills its sandbox. It is
 * assembled by `assembleAgent`, as the CLI, `serve` and the Lambda are; what it adds is its own store.
 */
import { randomUUID } from 'node:crypto';
import { loadConfig, type Config } from '../config/index.js';
import type { ModelClient } from '../model/index.js';
import type { SandboxProvider } from '../sandbox/index.js';
import { MemoryTaskStore, newTaskRecord, observeEvents, type Budget, type TaskEvent, type TaskRecord, type TaskSource, type TaskStore } from '../task/index.js';
import type { Tool } from '../tools/index.js';
import { MemoryJournal, runTask, type AgentLimits, type ApprovalPolicy, type StepJournal } from '../agent/index.js';
import { assembleAgent } from './assemble.js';

export interface AgentOptions {
  /** default: read from `env` */
  config?: Config;
  /** default: `process.env` (read once, here: createAgent is an entry point) */
  env?: Record<string, string | undefined>;
  model?: ModelClient;
  sandboxProvider?: SandboxProvider;
  /** default: an in-memory store that redacts the configured secrets */
  store?: TaskStore;
  /** Added to the MCP tools of the configuration (servers of `.mcp.json`, the presets, the builder). */
  tools?: Tool[];
  limits?: Partial<AgentLimits>;
  /** default: the policy of the configuration (DEEP_AGENT_APPROVAL, DEEP_AGENT_APPROVE_TOOLS) */
  approvalPolicy?: ApprovalPolicy;
  /** Journal per task; default a fresh in-memory journal. */
  journalFor?(taskId: string): StepJournal;
  instructions?: string;
  /** Every event of every task, as it is written. */
  onEvent?(event: TaskEvent): void;
  onTextDelta?(text: string): void;
}

export interface InvokeOptions {
  budget?: Budget;
  source?: TaskSource;
  signal?: AbortSignal;
  taskId?: string;
}

export interface Agent extends AsyncDisposable {
  readonly store: TaskStore;
  /** Runs one task and returns its final record (succeeded, failed or cancelled). */
  invoke(prompt: string, options?: InvokeOptions): Promise<TaskRecord>;
  /** Cancels running tasks (their sandboxes are killed) and releases resources (MCP servers, the store). */
  close(): Promise<void>;
}

/**
 * @example
 * await using agent = await createAgent();
 * const record = await agent.invoke('Write hello.py that prints hello, and run it');
 * console.log(record.status, record.result?.text);
 */
export async function createAgent(options: AgentOptions = {}): Promise<Agent> {
  const config = options.config ?? loadConfig(options.env ?? process.env);
  const assembled = await assembleAgent(config, {
    ...(options.model ? { model: options.model } : {}),
    ...(options.sandboxProvider ? { sandboxProvider: options.sandboxProvider } : {}),
    ...(options.tools ? { tools: options.tools } : {}),
    ...(options.approvalPolicy ? { approvalPolicy: options.approvalPolicy } : {}),
    ...(options.instructions ? { instructions: options.instructions } : {}),
  });
  const baseStore = options.store ?? new MemoryTaskStore(assembled.redactor);
  const store = options.onEvent ? observeEvents(baseStore, options.onEvent) : baseStore;
  const running = new Set<AbortController>();
  let closed = false;

  const agent: Agent = {
    store: baseStore,
    async invoke(prompt, invokeOptions = {}) {
      if (closed) throw new Error('this agent is closed');
      const id = invokeOptions.taskId ?? randomUUID();
      await store.create(newTaskRecord({ id, prompt, source: invokeOptions.source ?? 'cli', ...(invokeOptions.budget ? { budget: invokeOptions.budget } : {}) }));
      await store.appendEvent(id, 'task.queued', { source: invokeOptions.source ?? 'cli' });
      const controller = new AbortController();
      const onAbort = () => controller.abort();
      invokeOptions.signal?.addEventListener('abort', onAbort, { once: true });
      running.add(controller);
      try {
        return await runTask({
          taskId: id,
          store,
          model: assembled.model,
          sandboxProvider: assembled.sandboxProvider,
          journal: options.journalFor?.(id) ?? new MemoryJournal(),
          signal: controller.signal,
          ...assembled.taskOptions(),
          ...(options.limits ? { limits: options.limits } : {}),
          ...(options.onTextDelta ? { onTextDelta: options.onTextDelta } : {}),
        });
      } finally {
        running.delete(controller);
        invokeOptions.signal?.removeEventListener('abort', onAbort);
      }
    },
    async close() {
      closed = true;
      for (const c of running) c.abort();
      await assembled.close();
      await (baseStore as TaskStore).close?.();
    },
    [Symbol.asyncDispose]() {
      return agent.close();
    },
  };
  return agent;
}
