/** `deep-agent examples <scenario|all>`: the seed's scenario library, each scenario run as a task exactly like `run`. */
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../../config/index.js';
import { SCENARIO_NAMES, missingRequirements, selectScenarios, type Scenario } from '../../examples/index.js';
import type { TaskRecord } from '../../task/index.js';
import { openCliAgent, runOneTask, type CliAgent } from '../run-one-task.js';
import { UsageError, type Command } from '../io.js';
import { BUDGET_OPTIONS, parseBudget } from './run.js';

type Outcome =
  | { name: string; title: string; status: 'skipped'; reason: string }
  | { name: string; title: string; status: TaskRecord['status']; taskId: string; log: string; result?: string; error?: TaskRecord['error'] };

const CHOICES = [...SCENARIO_NAMES, 'all'].join('|');

function skipReason(scenario: Scenario, config: Config): string | undefined {
  const tokens = { GITHUB_TOKEN: config.mcp.githubToken, NOTION_TOKEN: config.mcp.notionToken };
  const missing = missingRequirements(scenario, (v) => tokens[v] !== undefined);
  if (missing.length === 0) return undefined;
  return `${missing.map((m) => `${m.variable} (${m.unlocks})`).join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set`;
}

export const examplesCommand: Command = {
  name: 'examples',
  summary: 'run a scenario from the library (github, notion, sync, code, data, package, workflow, mcp-builder, all)',
  usage: `deep-agent examples <${CHOICES}>... [--dry-run] [--json] [--yes] [--max-steps N] [--max-cost USD] [--timeout SECONDS]

  github       repository intelligence (needs GITHUB_TOKEN)
  notion       workspace organisation (needs NOTION_TOKEN)
  sync         GitHub -> Notion sync (needs GITHUB_TOKEN and NOTION_TOKEN)
  code         arbitrary code execution
  data         a data-processing pipeline
  package      pip install + usage (the sandbox reaches the network for the install)
  workflow     complex multi-step automation with a plan and a sub-agent
  mcp-builder  build, test and deploy a JSONPlaceholder MCP server (get_posts, get_post, get_user)
  all          every scenario in turn, then a summary

  --dry-run    print the prompts without running anything
  --json       print the outcomes (or, with --dry-run, the prompts) as JSON on stdout
  (other flags as for deep-agent run)

Each scenario runs as one task, exactly like deep-agent run. A scenario whose token is missing is skipped with
one line saying which. Exit code 0 when every scenario that ran succeeded, 1 otherwise.`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, yes: { type: 'boolean' }, ...BUDGET_OPTIONS },
    });
    if (positionals.length === 0) throw new UsageError(`which scenario? ${CHOICES}, e.g. deep-agent examples code`);
    const scenarios: Scenario[] = [];
    for (const name of positionals) {
      const found = selectScenarios(name);
      if (!found) throw new UsageError(`unknown scenario "${name}"; choose from ${CHOICES}`);
      for (const s of found) if (!scenarios.includes(s)) scenarios.push(s);
    }
    const budget = parseBudget(values);

    if (values['dry-run']) {
      if (values.json) {
        io.stdout.write(`${JSON.stringify({ scenarios: scenarios.map((s) => ({ name: s.name, title: s.title, requires: s.requires.map((r) => r.variable), prompt: s.prompt })) }, null, 2)}\n`);
      } else {
        io.stdout.write(scenarios.map((s) => `# ${s.name}: ${s.title}${s.requires.length ? ` (needs ${s.requires.map((r) => r.variable).join(', ')})` : ''}\n${s.prompt}\n`).join('\n'));
      }
      return 0;
    }

    const config = loadConfig(io.env, io.cwd);
    const outcomes: Outcome[] = [];
    let rt: CliAgent | undefined;
    try {
      for (const s of scenarios) {
        const reason = skipReason(s, config);
        if (reason) {
          io.stderr.write(`examples: skipped ${s.name}: ${reason}\n`);
          outcomes.push({ name: s.name, title: s.title, status: 'skipped', reason });
          continue;
        }
        rt ??= await openCliAgent(config);
        io.stderr.write(`examples: ${s.name}: ${s.title}\n`);
        const { record, logPath } = await runOneTask(rt, io, {
          prompt: s.prompt,
          ...(budget ? { budget } : {}),
          autoApprove: values.yes === true,
          ...(s.mcpServers ? { mcpServers: s.mcpServers } : {}),
        });
        outcomes.push({
          name: s.name,
          title: s.title,
          status: record.status,
          taskId: record.id,
          log: logPath,
          ...(record.result?.text ? { result: record.result.text } : {}),
          ...(record.error ? { error: record.error } : {}),
        });
        if (!values.json && record.result?.text) io.stdout.write(`${scenarios.length > 1 ? `# ${s.name}\n` : ''}${record.result.text}\n`);
      }
    } finally {
      await rt?.close();
    }

    const ran = outcomes.filter((o) => o.status !== 'skipped');
    const succeeded = ran.filter((o) => o.status === 'succeeded');
    if (scenarios.length > 1) {
      const failed = ran.filter((o) => o.status !== 'succeeded').map((o) => `${o.name} (${o.status})`);
      const skipped = outcomes.filter((o) => o.status === 'skipped').map((o) => o.name);
      io.stderr.write(
        `examples: ${succeeded.length} succeeded, ${failed.length} failed, ${skipped.length} skipped${failed.length ? `; failed: ${failed.join(', ')}` : ''}${skipped.length ? `; skipped: ${skipped.join(', ')}` : ''}\n`,
      );
    }
    if (values.json) io.stdout.write(`${JSON.stringify({ scenarios: outcomes }, null, 2)}\n`);
    return succeeded.length === ran.length ? 0 : 1;
  },
};
