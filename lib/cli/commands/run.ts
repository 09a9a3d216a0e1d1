/** `deep-agent run "<task>" [--json]`: runs one task locally with live progress on stderr. */
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/index.js';
import { TaskNetworkSchema, type Budget, type TaskNetwork } from '../../task/index.js';
import { openCliAgent, runOneTask } from '../run-one-task.js';
import { terminalAuthorizer } from '../oauth.js';
import { UsageError, type Command } from '../io.js';

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

/** `--allow-net a,b`: the task's egress allowlist, checked as the HTTP body's `network.allow` is. */
export function parseAllowNet(value: string | undefined): TaskNetwork | undefined {
  if (value === undefined) return undefined;
  const parsed = TaskNetworkSchema.safeParse({ allow: value.split(',').map((h) => h.trim()).filter(Boolean) });
  if (!parsed.success) throw new UsageError(`--allow-net takes hosts such as pkg.example.org,*.cdn.example.org,api.example.com:443 ("*" and "*.com" are too broad), not "${value}"`);
  return parsed.data;
}

export const BUDGET_OPTIONS = {
  'max-steps': { type: 'string' },
  'max-cost': { type: 'string' },
  timeout: { type: 'string' },
} as const;

export const ALLOW_NET_OPTION = { 'allow-net': { type: 'string' } } as const;

export const runCommand: Command = {
  name: 'run',
  summary: 'run one task locally, streaming progress to stderr',
  usage: `deep-agent run "<task>" [--json] [--verbose] [--output text|stream-json] [--model ID] [--max-steps N] [--max-cost USD] [--timeout SECONDS] [--allow-net HOSTS] [--yes]

  --json        print the final task record as JSON on stdout
  --verbose     show the first lines of each tool's output
  --output      stream-json: one JSON event per line on stdout (then {"type":"record","record":...}), no progress
  --model       model id for this task (default DEEP_AGENT_MODEL, else the built-in default)
  --max-steps   model turns before the task stops with budget_exceeded (default 50)
  --max-cost    cost in USD before it stops (default 5)
  --timeout     seconds before it stops (default 3600)
  --allow-net   the only hosts any command may reach, comma-separated (pkg.example.org,*.cdn.example.org,host:443);
                network: true becomes this list (default DEEP_AGENT_NETWORK_ALLOW, else no bound)
  --yes         approve tool calls that need approval without asking

Exit code 0 when the task succeeded, 1 when it failed or was cancelled.`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, yes: { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' }, output: { type: 'string' }, model: { type: 'string' }, ...BUDGET_OPTIONS, ...ALLOW_NET_OPTION },
    });
    const prompt = positionals.join(' ').trim();
    if (!prompt) throw new UsageError('run needs a task, e.g. deep-agent run "write hello.py and run it"');
    const budget = parseBudget(values);
    const network = parseAllowNet(values['allow-net']);
    const output = values.output ?? 'text';
    if (output !== 'text' && output !== 'stream-json') throw new UsageError(`--output takes text or stream-json, not "${values.output}"`);

    const config = loadConfig(values.model ? { ...io.env, DEEP_AGENT_MODEL: values.model } : io.env, io.cwd);
    // A person at a terminal (or $BROWSER) can approve a server's request for more scope mid-task.
    const authorizer = terminalAuthorizer(io, config);
    const rt = await openCliAgent(config, authorizer ? { oauthAuthorizer: authorizer } : {});
    try {
      const { record } = await runOneTask(rt, io, { prompt, ...(budget ? { budget } : {}), ...(network ? { network } : {}), autoApprove: values.yes === true, verbose: values.verbose === true, output });
      if (output === 'stream-json') io.stdout.write(`${JSON.stringify({ type: 'record', record })}\n`);
      else if (values.json) io.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
      else if (record.result?.text) io.stdout.write(`${record.result.text}\n`);
      return record.status === 'succeeded' ? 0 : 1;
    } finally {
      await rt.close();
    }
  },
};
