/** The agent core's public contract: what a runtime (CLI, local worker, durable Lambda) passes in. */
import type { ModelClient } from '../model/index.js';
import type { MaskedCredentialSpec, SandboxProvider } from '../sandbox/index.js';
import type { TaskRecord, TaskStore } from '../task/index.js';
import type { Tool } from '../tools/index.js';
import type { StepJournal } from './journal.js';

export interface AgentLimits {
  /** Model turns before `budget_exceeded` (default 50; the task's own budget wins). */
  maxSteps: number;
  /** default 5 USD */
  maxCostUsd: number;
  /** wall-clock seconds from start (default 3600) */
  deadlineSeconds: number;
  /** tool calls of one model turn run at most this many at a time (default 4) */
  toolConcurrency: number;
  /** tool calls of one model turn beyond this many get an error result instead of running (default 32) */
  maxToolCallsPerTurn: number;
  /**
   * Journal operations one run may use; the task ends `budget_exceeded` before it would need more.
   * @default the journal's `operationQuota` (Lambda durable functions), else no cap
   */
  maxOperations?: number;
  /** characters of one tool output the model sees; the log keeps more (default 20_000) */
  maxToolOutputChars: number;
  /** max_tokens per model call (default 8192) */
  maxTokens: number;
  /**
   * Estimated conversation size (tokens) above which old tool results are elided before the next model call,
   * with a `context.compacted` event (default 120_000).
   */
  compactAtTokens: number;
}

/**
 * Something one task creates at its start and owns to its end (the E2B MCP gateway sandbox). The loop runs
 * `create` inside the journal step `<name>:create` and records the id on the task record
 * (`resourceSandboxIds[name]`), so a replay, a crashed attempt, a cancel and a failed execution all find it.
 */
export interface TaskResource {
  /** Names its step (`<name>:create`) and its entry on the record. */
  readonly name: string;
  /** Creates it for the task (inside the step, once per task) and returns its id. */
  create(task: { taskId: string; accountId?: string }): Promise<string>;
  /** Attaches to `id` on every run (the first or a replay). Never throws: a failure leaves it unavailable. */
  open(id: string): Promise<void>;
  /** While a person decides (a cloud sandbox stops billing). */
  pause?(): Promise<void>;
  resume?(): Promise<void>;
  /**
   * At the run's end: a parked run leaves it paused for the next run; any other end kills it. `id` names the
   * one to kill when this run never opened it (a failed execution's cleanup). Never throws.
   */
  release(options: { parked: boolean; id?: string }): Promise<void>;
  /** One sentence for the model when it did not come up. */
  unavailableNote?(): string | undefined;
}

/** Says whether a tool call needs a person's approval; returns the reason when it does. */
export type ApprovalPolicy = (tool: Tool, input: unknown) => string | undefined;

export interface RunTaskOptions {
  /** The task must already exist in `store` (status queued). */
  taskId: string;
  store: TaskStore;
  model: ModelClient;
  /** The sandbox is created lazily, on the first tool that needs it, and always closed at the end. */
  sandboxProvider: SandboxProvider;
  /** Every model turn and tool call runs as a named step of this journal. */
  journal: StepJournal;
  /** Extra tools (MCP tools, the MCP builder) beside the built-in ones. */
  tools?: Tool[];
  /**
   * Reads the values of the task's `secrets` from its account's stored credentials (`resolveTaskSecrets`), at the
   * start of every run (never journaled); its sandbox then holds them masked. A throw fails the task (a
   * non-retryable one once, with its reason). A task that names secrets fails without it.
   */
  taskSecrets?(record: TaskRecord): Promise<MaskedCredentialSpec[]>;
  /**
   * The extra tools as they are now, asked before every model turn (main agent and sub-agents): a server
   * `deploy_mcp_server` attached mid-task is callable from the next turn. Tools not offered yet are appended
   * after the others and nothing is reordered, so the prompt-cache prefix stays warm.
   */
  latestTools?(): Tool[];
  signal?: AbortSignal;
  limits?: Partial<AgentLimits>;
  approvalPolicy?: ApprovalPolicy;
  /**
   * What the task owns besides its sandbox and needs from its start (the E2B MCP gateway sandbox): each is
   * created inside the step `<name>:create` after `task:start`, so a replay reattaches to the same one; paused
   * while a person decides; killed when the task ends. A task that gets none creates none.
   */
  resources?: TaskResource[];
  /** Appended to the built-in system prompt. */
  instructions?: string;
  /** Extra data for the `task.started` event (e.g. which MCP servers are attached and which failed). */
  startInfo?: Record<string, unknown>;
  /** Called with each text delta of the model's answer (live progress). */
  onTextDelta?(text: string): void;
  /** The clock steps record their times with (the deadline is compared with those). @default Date.now */
  clock?: () => number;
}
