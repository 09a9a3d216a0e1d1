/** What the loop's modules share about one run. */
import type { EventType, PlanItem, TaskStore, Usage } from '../task/index.js';
import type { Tool, ToolContext } from '../tools/index.js';
import type { BudgetView, CountedJournal, RunAbort, RunBudget } from './budgets.js';
import type { TaskSandbox } from './sandbox-lifecycle.js';
import type { TaskResources } from './task-resources.js';
import type { AgentLimits, RunTaskOptions } from './types.js';

export interface RunContext {
  taskId: string;
  store: TaskStore;
  options: RunTaskOptions & { rethrowTransient?: boolean };
  limits: AgentLimits;
  budget: RunBudget;
  abort: RunAbort;
  clock: () => number;
  emit(type: EventType, data: Record<string, unknown>): Promise<void>;
  sandbox: TaskSandbox;
  /** What the task owns besides its sandbox (the E2B MCP gateway). */
  resources: TaskResources;
  /** The runtime's instructions and notes on resources that did not come up, for the system prompt. */
  instructions?: string;
  /** Built-in tools and the runtime's (withheld ones too). */
  allTools: Tool[];
  /** MCP tools the client-side tool search withholds from requests until `search_tools` finds them. */
  withheldTools?: Map<string, Tool>;
  toolContext: ToolContext;
  /** The task's running totals (progress on the record; the main agent's budget). */
  totals: { usage: Usage; steps: number; plan: PlanItem[] };
}

/** One agent's conversation: the main agent (depth 0) or a sub-agent (depth 1). */
export interface AgentScope {
  /** Prefix of its step names (`''`, `sub:<id>:`). */
  prefix: string;
  /** Its name in events (`main`, `sub:<id>`). */
  agent: string;
  prompt: string;
  tools: Tool[];
  /** Which tools attached mid-task (deploy_mcp_server) this agent may use too. @default every one */
  accepts?(tool: Tool): boolean;
  depth: number;
  /** The totals its budget checks compare. */
  view: BudgetView;
  /** Its own figures, when they differ from the task's (a sub-agent). */
  own?: { steps: number; costUsd: number };
}

export type Conversation = (journal: CountedJournal, scope: AgentScope) => Promise<string>;
