/**
 * The client commands: `submit`, `tasks`, `status`, `logs`, `cancel`, `approve`, `schedules`. They talk to a running
 * `deep-agent serve` or a deployed API (`--api URL`, DEEP_AGENT_API_URL).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/index.js';
import { ApiClient } from '../../http/index.js';
import { readApiToken } from '../../local/index.js';
import { TaskSecretsSchema, type TaskEvent, type TaskRecord, type TaskSecret } from '../../task/index.js';
import { ProgressPrinter, terminalOptions } from '../progress.js';
import { UsageError, type CliIo, type Command } from '../io.js';
import { ALLOW_NET_OPTION, BUDGET_OPTIONS, parseAllowNet, parseBudget } from './run.js';

export const DEFAULT_API_URL = 'http://127.0.0.1:8787';
const API_OPTION = { api: { type: 'string' } } as const;

/** The client for `--api` (or DEEP_AGENT_API_URL, or the local service) with the token of the env or the local file. */
function clientFor(io: CliIo, api: string | undefined): ApiClient {
  const config = loadConfig(io.env, io.cwd);
  const url = api ?? config.api.url ?? DEFAULT_API_URL;
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--api needs an http(s) URL, not "${url}"`);
  const token = readApiToken(config.home, config.api.token);
  return new ApiClient({ url: url || DEFAULT_API_URL, ...(token ? { token } : {}) });
}

const json = (io: CliIo, value: unknown) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

/**
 * `--secret VAR=CONNECTION[/FIELD]=HOST,HOST` (repeatable): a credential of one of your MCP connections, masked
 * in the task's sandbox as `VAR` and sent only to those hosts; checked as the HTTP body's `secrets` are.
 *
 * @example
 * parseSecrets(['GITHUB_TOKEN=mcpc_0123/GITHUB_PERSONAL_ACCESS_TOKEN=github.com,api.github.com']);
 */
export function parseSecrets(values: readonly string[] | undefined): TaskSecret[] | undefined {
  if (!values?.length) return undefined;
  const list = values.map((v) => {
    const [env = '', source = '', hosts = '', ...rest] = v.split('=').map((x) => x.trim());
    const [connection = '', field, ...more] = source.split('/');
    if (!env || !connection || !hosts || rest.length || more.length) throw new UsageError(`--secret takes VAR=CONNECTION[/FIELD]=HOST,HOST (e.g. GITHUB_TOKEN=mcpc_0123=github.com,api.github.com), not "${v}"`);
    return { env, connection, ...(field ? { field } : {}), hosts: hosts.split(',').map((h) => h.trim()).filter(Boolean) };
  });
  const parsed = TaskSecretsSchema.safeParse(list);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`--secret ${values[Number(issue.path[0] ?? 0)] ?? ''}: ${issue.path.slice(1).join('.') || 'value'} ${issue.message}`);
  }
  return parsed.data;
}

export const submitCommand: Command = {
  name: 'submit',
  summary: 'queue a task on a running service (deep-agent serve or the deployed API)',
  usage: `deep-agent submit "<task>" [--json] [--idempotency-key K] [--max-steps N] [--max-cost USD] [--timeout SECONDS] [--allow-net HOSTS] [--secret VAR=CONNECTION[/FIELD]=HOSTS]... [--api URL]

Prints the task id (or {taskId, status} with --json). The same --idempotency-key returns the same task.
--secret gives the task's sandbox a credential of one of your MCP connections (deep-agent mcp connections list)
as VAR, masked: commands see a sentinel, the value is sent only to HOSTS (comma-separated). FIELD names the
credential field when the connection holds more than one.
--api defaults to DEEP_AGENT_API_URL or ${DEFAULT_API_URL}; the token is DEEP_AGENT_API_TOKEN or DEEP_AGENT_HOME/api-token.`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, 'idempotency-key': { type: 'string' }, secret: { type: 'string', multiple: true }, ...BUDGET_OPTIONS, ...ALLOW_NET_OPTION, ...API_OPTION },
    });
    const prompt = positionals.join(' ').trim();
    if (!prompt) throw new UsageError('submit needs a task, e.g. deep-agent submit "summarise README.md"');
    const budget = parseBudget(values);
    const network = parseAllowNet(values['allow-net']);
    const secrets = parseSecrets(values.secret);
    const answer = await clientFor(io, values.api).submit({
      prompt,
      ...(values['idempotency-key'] ? { idempotencyKey: values['idempotency-key'] } : {}),
      ...(budget ? { budget } : {}),
      ...(network ? { network } : {}),
      ...(secrets ? { secrets } : {}),
    });
    if (values.json) json(io, answer);
    else io.stdout.write(`${answer.taskId}\n`);
    return 0;
  },
};

export const statusCommand: Command = {
  name: 'status',
  summary: "print a task's status (or its record with --json)",
  usage: `deep-agent status <taskId> [--json] [--api URL]`,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, ...API_OPTION } });
    const id = positionals[0];
    if (!id) throw new UsageError('status needs a task id');
    const record = await clientFor(io, values.api).get(id);
    if (values.json) json(io, record);
    else io.stdout.write(`${describe(record)}\n`);
    return 0;
  },
};

export const tasksCommand: Command = {
  name: 'tasks',
  summary: 'list your tasks, newest first',
  usage: `deep-agent tasks [--status S[,S...]] [--source cli|http|sqs|schedule] [--since ISO] [--limit N] [--all] [--json] [--api URL]

Prints one line per task (id, status, source, age, steps, cost, prompt). --limit is the page size (default 20,
at most 100); --all follows the pages to the end. --json prints the tasks as a JSON array.`,
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        status: { type: 'string', multiple: true },
        source: { type: 'string' },
        since: { type: 'string' },
        limit: { type: 'string' },
        all: { type: 'boolean' },
        json: { type: 'boolean' },
        ...API_OPTION,
      },
    });
    const limit = values.limit === undefined ? undefined : Number(values.limit);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 100)) throw new UsageError(`--limit takes a whole number from 1 to 100, not "${values.limit}"`);
    const client = clientFor(io, values.api);
    const status = values.status?.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
    const tasks: TaskRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.list({
        ...(status?.length ? { status } : {}),
        ...(values.source ? { source: values.source } : {}),
        ...(values.since ? { since: values.since } : {}),
        ...(limit ? { limit } : {}),
        ...(cursor ? { cursor } : {}),
      });
      tasks.push(...page.tasks);
      cursor = page.nextCursor;
      // A filtered page can come back empty with a cursor (S3 reads a bounded slice of the index per page).
    } while (cursor && (values.all || tasks.length === 0));
    if (values.json) json(io, tasks);
    else if (tasks.length === 0) io.stdout.write('no tasks\n');
    else for (const r of tasks) io.stdout.write(`${taskLine(r)}\n`);
    return 0;
  },
};

/** How long ago, in the largest whole unit. */
export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

function taskLine(r: TaskRecord): string {
  const prompt = r.prompt.replace(/\s+/g, ' ').trim();
  return [r.id, r.status.padEnd(16), r.source.padEnd(8), age(r.createdAt).padStart(4), `${r.steps} steps`, `$${r.usage.costUsd.toFixed(4)}`, prompt.length > 60 ? `${prompt.slice(0, 59)}…` : prompt].join('  ');
}

function describe(r: TaskRecord): string {
  const parts = [`${r.id} ${r.status}`, `attempts ${r.attempts}`, `steps ${r.steps}`, `$${r.usage.costUsd.toFixed(4)}`];
  if (r.error) parts.push(`error ${r.error.code}: ${r.error.message}`);
  if (r.result?.text) parts.push(`result: ${r.result.text.replace(/\s+/g, ' ').slice(0, 200)}`);
  return parts.join(' | ');
}

export const logsCommand: Command = {
  name: 'logs',
  summary: "print a task's events (--follow until it ends)",
  usage: `deep-agent logs <taskId> [--follow] [--json] [--after SEQ] [--api URL]

--json prints one event per line as JSON; otherwise progress lines as deep-agent run shows them.`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { follow: { type: 'boolean', short: 'f' }, json: { type: 'boolean' }, after: { type: 'string' }, ...API_OPTION },
    });
    const id = positionals[0];
    if (!id) throw new UsageError('logs needs a task id');
    let after = Number(values.after ?? 0);
    if (!Number.isInteger(after) || after < 0) throw new UsageError(`--after takes a whole number, not "${values.after}"`);
    const client = clientFor(io, values.api);
    const progress = new ProgressPrinter(io.stdout, terminalOptions(io.stdout as { isTTY?: boolean }, loadConfig(io.env, io.cwd).cli));
    const print = (e: TaskEvent) => (values.json ? io.stdout.write(`${JSON.stringify(e)}\n`) : progress.onEvent(e));
    if (!values.follow) {
      for (const e of await client.events(id, after)) print(e);
      return 0;
    }
    // Live: the SSE stream of serve, or the long-poll of the deployed API; then the outcome line `run` prints.
    await client.follow(id, { after, onEvent: print });
    const record = await client.get(id);
    if (values.json) io.stdout.write(`${JSON.stringify({ outcome: record.status, steps: record.steps, usage: record.usage, ...(record.error ? { error: record.error } : {}) })}\n`);
    else progress.summary(record);
    return record.status === 'succeeded' ? 0 : 1;
  },
};

export const cancelCommand: Command = {
  name: 'cancel',
  summary: 'stop a queued or running task',
  usage: `deep-agent cancel <taskId> [--api URL]`,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: API_OPTION });
    const id = positionals[0];
    if (!id) throw new UsageError('cancel needs a task id');
    const record = await clientFor(io, values.api).cancel(id);
    io.stdout.write(`${record.id} ${record.status}\n`);
    return 0;
  },
};

export const approveCommand: Command = {
  name: 'approve',
  summary: 'approve (or --deny) a tool call that waits for a person',
  usage: `deep-agent approve <taskId> <approvalId> [--deny] [--reason R] [--api URL]

The approval id is in the task's approval.requested event (deep-agent logs <taskId>).`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { deny: { type: 'boolean' }, reason: { type: 'string' }, ...API_OPTION },
    });
    const [id, approvalId] = positionals;
    if (!id || !approvalId) throw new UsageError('approve needs a task id and an approval id');
    await clientFor(io, values.api).approve(id, approvalId, { approve: !values.deny, ...(values.reason ? { reason: values.reason } : {}) });
    io.stdout.write(`${approvalId} ${values.deny ? 'denied' : 'approved'}\n`);
    return 0;
  },
};

export const schedulesCommand: Command = {
  name: 'schedules',
  summary: 'recurring tasks: schedules list | add | rm',
  usage: `deep-agent schedules list [--json] [--api URL]
deep-agent schedules add (--cron "0 9 * * 1-5" [--timezone Europe/Paris] | --rate "rate(1 hour)") "<task>" [--api URL]
deep-agent schedules rm <scheduleId> [--api URL]`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, cron: { type: 'string' }, rate: { type: 'string' }, timezone: { type: 'string' }, ...BUDGET_OPTIONS, ...API_OPTION },
    });
    const [sub, ...rest] = positionals;
    const client = clientFor(io, values.api);
    switch (sub) {
      case 'list': {
        const schedules = await client.listSchedules();
        if (values.json) json(io, schedules);
        else if (schedules.length === 0) io.stdout.write('no schedules\n');
        else for (const s of schedules) io.stdout.write(`${s.id}  ${s.cron ?? s.rate ?? s.expression}${s.timezone ? ` (${s.timezone})` : ''}  ${String(s.prompt).slice(0, 80)}\n`);
        return 0;
      }
      case 'add': {
        const prompt = rest.join(' ').trim();
        if (!prompt) throw new UsageError('schedules add needs a task');
        if ((values.cron === undefined) === (values.rate === undefined)) throw new UsageError('schedules add needs exactly one of --cron or --rate');
        const budget = parseBudget(values);
        const created = await client.createSchedule({
          prompt,
          ...(values.cron ? { cron: values.cron } : {}),
          ...(values.rate ? { rate: values.rate } : {}),
          ...(values.timezone ? { timezone: values.timezone } : {}),
          ...(budget ? { budget } : {}),
        });
        if (values.json) json(io, created);
        else io.stdout.write(`${created.id}\n`);
        return 0;
      }
      case 'rm': {
        if (!rest[0]) throw new UsageError('schedules rm needs a schedule id');
        await client.deleteSchedule(rest[0]);
        io.stdout.write(`${rest[0]} removed\n`);
        return 0;
      }
      default:
        throw new UsageError('schedules takes list, add or rm');
    }
  },
};
