/**
 * One task run in this process, as `run` and `examples` do it: live progress, terminal approvals, a JSON log.
 * What the CLI adds to the assembled agent (lib/assembly) is its own: the SQLite store and the terminal.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { MemoryJournal, runTask, type ApprovalDecision, type ApprovalRequest } from '../agent/index.js';
import { assembleAgent, type AssembledAgent } from '../assembly/index.js';
import type { Config } from '../config/index.js';
import { openDatabase, SqliteTaskStore } from '../local/index.js';
import { observeEvents } from '../task/index.js';
import { newTaskRecord, type Budget, type TaskNetwork, type TaskRecord } from '../task/index.js';
import type { CliIo } from './io.js';
import type { InteractiveAuthorizer } from '../mcp/index.js';
import { lazyLocalOAuth } from './oauth.js';
import { ProgressPrinter, terminalOptions } from './progress.js';

/** The assembled agent plus what the CLI adds: tasks in the SQLite store under DEEP_AGENT_HOME, logs beside it. */
export interface CliAgent {
  agent: AssembledAgent;
  store: SqliteTaskStore;
  logDir: string;
  close(): Promise<void>;
}

/**
 * Assembles the agent (credentials are checked first, so a missing key creates nothing), then opens the store.
 *
 * @example
 * const cli = await openCliAgent(loadConfig(io.env, io.cwd));
 * try { await runOneTask(cli, io, { prompt }); } finally { await cli.close(); }
 */
export async function openCliAgent(config: Config, options: { oauthAuthorizer?: InteractiveAuthorizer } = {}): Promise<CliAgent> {
  const oauth = lazyLocalOAuth(config);
  const mcpOAuth = { records: oauth.records, ...(options.oauthAuthorizer ? { authorizer: options.oauthAuthorizer } : {}) };
  let agent: AssembledAgent;
  try {
    // The assembly's one redactor (the store's below) learns every OAuth token the hub uses.
    agent = await assembleAgent(config, { mcpOAuth });
  } catch (e) {
    oauth.close();
    throw e;
  }
  let db: ReturnType<typeof openDatabase>;
  try {
    db = openDatabase(config.home);
  } catch (e) {
    await agent.close();
    oauth.close();
    throw e;
  }
  const store = new SqliteTaskStore(db, { redactor: agent.redactor });
  return {
    agent,
    store,
    logDir: join(config.home, 'logs'),
    async close() {
      await agent.close();
      oauth.close();
      db.close();
    },
  };
}

/** A journal for one CLI run: in memory, with approvals asked at the terminal or decided by a flag. */
class TerminalJournal extends MemoryJournal {
  constructor(
    private readonly io: CliIo,
    private readonly autoApprove: boolean,
    private readonly progress?: ProgressPrinter,
  ) {
    super();
  }

  async waitForApproval(_name: string, req: ApprovalRequest): Promise<ApprovalDecision> {
    if (this.autoApprove) return { approve: true, reason: 'approved by --yes' };
    if (!this.io.stdin.isTTY) return { approve: false, reason: 'no terminal to ask; pass --yes to approve such calls' };
    // Other calls of the same turn may still be printing: the prompt gets the terminal to itself.
    this.progress?.pause();
    const rl = createInterface({ input: this.io.stdin, output: this.io.stderr });
    try {
      const answer = await rl.question(`Allow ${req.tool} ${JSON.stringify(req.input).slice(0, 200)}? (${req.reason}) [y/N] `);
      return /^y(es)?$/i.test(answer.trim()) ? { approve: true } : { approve: false, reason: 'denied at the terminal' };
    } finally {
      rl.close();
      this.progress?.resume();
    }
  }
}

export interface RunOneTaskOptions {
  prompt: string;
  budget?: Budget;
  /** Approve calls that need approval without asking (`--yes`). @default false */
  autoApprove?: boolean;
  /** MCP servers the task may use. @default every attached server */
  mcpServers?: string[];
  /** The task's egress allowlist (`--allow-net`). @default DEEP_AGENT_NETWORK_ALLOW, else none */
  network?: TaskNetwork;
  /** Show the first lines of each tool's output. @default false */
  verbose?: boolean;
  /** `stream-json`: each event as one JSON line on stdout instead of progress on stderr. @default 'text' */
  output?: 'text' | 'stream-json';
}

/**
 * Runs one task to its end on an open CLI agent, printing progress and the summary to stderr; Ctrl-C
 * cancels it. Does not print the result: the command decides how.
 *
 * @example
 * const { record, logPath } = await runOneTask(cli, io, { prompt: 'write hello.py and run it' });
 */
export async function runOneTask(rt: CliAgent, io: CliIo, options: RunOneTaskOptions): Promise<{ record: TaskRecord; logPath: string }> {
  const json = options.output === 'stream-json';
  // Asked at this terminal, the prompt shows the reason; a progress line would say it twice.
  const asks = options.autoApprove !== true && io.stdin.isTTY === true;
  const progress = new ProgressPrinter(io.stderr, { ...terminalOptions(io.stderr, rt.agent.config.cli), verbose: options.verbose === true, approvalsAsked: asks });
  const store = observeEvents(rt.store, (e) => (json ? io.stdout.write(`${JSON.stringify(e)}\n`) : progress.onEvent(e)));
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const id = randomUUID();
    await store.create(
      newTaskRecord({ id, prompt: options.prompt, source: 'cli', ...(options.budget ? { budget: options.budget } : {}), ...(options.mcpServers ? { mcpServers: options.mcpServers } : {}), ...(options.network ? { network: options.network } : {}) }),
    );
    await store.appendEvent(id, 'task.queued', { source: 'cli' });
    const record = await runTask({
      taskId: id,
      store,
      model: rt.agent.model,
      sandboxProvider: rt.agent.sandboxProvider,
      journal: new TerminalJournal(io, options.autoApprove === true, json ? undefined : progress),
      signal: controller.signal,
      ...rt.agent.taskOptions(options.mcpServers),
    });
    const logPath = await rt.store.exportTaskLog(id, rt.logDir);
    if (!json) progress.summary(record);
    io.stderr.write(`log: ${logPath}\n`);
    return { record, logPath };
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
