/** `deep-agent run "<task>" [--json]`: runs one task locally with live progress on stderr. */
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/index.js';
import { MemoryJournal, runTask, type ApprovalDecision, type ApprovalRequest } from '../../agent/index.js';
import { observeEvents } from '../../store/index.js';
import { newTaskRecord, type Budget } from '../../task/index.js';
import { ProgressPrinter } from '../progress.js';
import { openLocalRuntime } from '../local-runtime.js';
import { UsageError, type CliIo, type Command } from '../io.js';

/** A journal for one CLI run: in memory, with approvals asked at the terminal or decided by a flag. */
class TerminalJournal extends MemoryJournal {
  constructor(
    private readonly io: CliIo,
    private readonly autoApprove: boolean,
  ) {
    super();
  }
  async waitForApproval(_name: string, req: ApprovalRequest): Promise<ApprovalDecision> {
    if (this.autoApprove) return { approve: true, reason: 'approved by --yes' };
    if (!this.io.stdin.isTTY) return { approve: false, reason: 'no terminal to ask; pass --yes to approve such calls' };
    const rl = createInterface({ input: this.io.stdin, output: this.io.stderr });
    try {
      const answer = await rl.question(`Allow ${req.tool} ${JSON.stringify(req.input).slice(0, 200)}? (${req.reason}) [y/N] `);
      return /^y(es)?$/i.test(answer.trim()) ? { approve: true } : { approve: false, reason: 'denied at the terminal' };
    } finally {
      rl.close();
    }
  }
}

export function parseBudget(values: { 'max-steps'?: string; 'max-cost'?: string; timeout?: string }): Budget | undefined {
  const budget: Budget = {};
  const num = (flag: string, v: string | undefined, int: boolean) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || (int && !Number.isInteger(n))) throw new UsageError(`--${flag} takes a positive ${int ? 'whole ' : ''}number, not "${v}"`);
    return n;
  };
  const steps = num('max-steps', values['max-steps'], true);
  const cost = num('max-cost', values['max-cost'], false);
  const deadline = num('timeout', values.timeout, true);
  if (steps) budget.maxSteps = steps;
  if (cost) budget.maxCostUsd = cost;
  if (deadline) budget.deadlineSeconds = deadline;
  return Object.keys(budget).length ? budget : undefined;
}

export const BUDGET_OPTIONS = {
  'max-steps': { type: 'string' },
  'max-cost': { type: 'string' },
  timeout: { type: 'string' },
} as const;

export const runCommand: Command = {
  name: 'run',
  summary: 'run one task locally, streaming progress to stderr',
  usage: `deep-agent run "<task>" [--json] [--max-steps N] [--max-cost USD] [--timeout SECONDS] [--yes]

  --json        print the final task record as JSON on stdout
  --max-steps   model turns before the task stops with budget_exceeded (default 50)
  --max-cost    cost in USD before it stops (default 5)
  --timeout     seconds before it stops (default 3600)
  --yes         approve tool calls that need approval without asking

Exit code 0 when the task succeeded, 1 when it failed or was cancelled.`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, yes: { type: 'boolean' }, ...BUDGET_OPTIONS },
    });
    const prompt = positionals.join(' ').trim();
    if (!prompt) throw new UsageError('run needs a task, e.g. deep-agent run "write hello.py and run it"');
    const budget = parseBudget(values);

    const config = loadConfig(io.env, io.cwd);
    const rt = await openLocalRuntime(config);
    const progress = new ProgressPrinter(io.stderr);
    const store = observeEvents(rt.store, (e) => progress.onEvent(e));
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const id = randomUUID();
      await store.create(newTaskRecord({ id, prompt, source: 'cli', ...(budget ? { budget } : {}) }));
      await store.appendEvent(id, 'task.queued', { source: 'cli' });
      const record = await runTask({
        taskId: id,
        store,
        model: rt.model,
        sandboxProvider: rt.sandboxProvider,
        journal: new TerminalJournal(io, values.yes === true),
        signal: controller.signal,
        ...rt.taskOptions(),
      });
      const logPath = await rt.store.exportTaskLog(id, rt.logDir);
      progress.summary(record);
      io.stderr.write(`log: ${logPath}\n`);
      if (values.json) io.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
      else if (record.result?.text) io.stdout.write(`${record.result.text}\n`);
      return record.status === 'succeeded' ? 0 : 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await rt.close();
    }
  },
};
