/** The `deep-agent` command line. `main` returns the exit code; user mistakes print one line, never a stack. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DeepAgentError } from '../errors/index.js';
import { UsageError, type CliIo, type Command } from './io.js';
import { VERSION } from './version.js';

export type { CliIo, Command } from './io.js';
export { UsageError } from './io.js';

/**
 * A command's name and summary, and how to load it. Each command's module is imported only when it runs, so
 * `run` starts without the HTTP server or the MCP connection manager (test/integration/cli-doctor-init checks
 * that each summary here is the loaded command's own).
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

const api = () => import('./commands/api-commands.js');
export const COMMANDS: CommandEntry[] = [
  { name: 'run', summary: 'run one task locally, streaming progress to stderr', load: async () => (await import('./commands/run.js')).runCommand },
  { name: 'chat', summary: 'interactive session; type exit to quit', load: async () => (await import('./commands/chat.js')).chatCommand },
  { name: 'mcp', summary: 'MCP servers (attached or not, and why) and their tools', load: async () => (await import('./commands/mcp.js')).mcpCommand },
  { name: 'serve', summary: 'run the local API, queue worker and scheduler on 127.0.0.1', load: async () => (await import('./commands/serve.js')).serveCommand },
  { name: 'submit', summary: 'queue a task on a running service (deep-agent serve or the deployed API)', load: async () => (await api()).submitCommand },
  { name: 'tasks', summary: 'list your tasks, newest first', load: async () => (await api()).tasksCommand },
  { name: 'status', summary: "print a task's status (or its record with --json)", load: async () => (await api()).statusCommand },
  { name: 'logs', summary: "print a task's events (--follow until it ends)", load: async () => (await api()).logsCommand },
  { name: 'cancel', summary: 'stop a queued or running task', load: async () => (await api()).cancelCommand },
  { name: 'approve', summary: 'approve (or --deny) a tool call that waits for a person', load: async () => (await api()).approveCommand },
  { name: 'schedules', summary: 'recurring tasks: schedules list | add | rm', load: async () => (await api()).schedulesCommand },
  { name: 'examples', summary: 'run a scenario from the library (github, notion, sync, code, data, package, workflow, mcp-builder, all)', load: async () => (await import('./commands/examples.js')).examplesCommand },
  { name: 'doctor', summary: 'check this machine: Node, sandbox, keys, API reachability, host limits', load: async () => (await import('./commands/doctor.js')).doctorCommand },
  { name: 'init', summary: 'write .env.example and a .mcp.json skeleton here (never overwrites)', load: async () => (await import('./commands/init.js')).initCommand },
];

/** Adds commands (serve, submit, mcp, examples, ...) registered by other parts. */
export function registerCommands(...commands: Command[]): void {
  for (const c of commands) if (!COMMANDS.some((x) => x.name === c.name)) COMMANDS.push({ name: c.name, summary: c.summary, load: async () => c });
}

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `deep-agent: a Claude agent that plans and executes tasks in an isolated sandbox

Usage: deep-agent <command> [options]   (deep-agent <command> --help for details)
       deep-agent --version               (prints deep-agent ${VERSION})

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}
`;
}

/** Loads `./.env` into `env` (only keys not already set), as the seed's python-dotenv did. */
function loadDotEnv(io: CliIo): void {
  const path = join(io.cwd, '.env');
  if (!existsSync(path)) return;
  const before = { ...process.env };
  process.loadEnvFile(path);
  for (const [k, v] of Object.entries(process.env)) if (before[k] === undefined && io.env[k] === undefined) io.env[k] = v;
}

/**
 * @example
 * process.exitCode = await main({ argv: process.argv.slice(2), env: { ...process.env }, cwd: process.cwd(), stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
 */
export async function main(io: CliIo): Promise<number> {
  const [name, ...rest] = io.argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`deep-agent ${VERSION}\n`);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    io.stderr.write(`deep-agent: unknown command "${name}". Run deep-agent --help for the list.\n`);
    return 2;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    loadDotEnv(io);
    return await command.run(rest, io);
  } catch (e) {
    // Read here, not through loadConfig (it is declared in the schema's cli section): a configuration that
    // does not load must still be debuggable.
    const debug = io.env.DEEP_AGENT_DEBUG === '1';
    if (e instanceof UsageError) {
      io.stderr.write(`deep-agent ${name}: ${e.message}\n`);
      return 2;
    }
    if ((e as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')) {
      io.stderr.write(`deep-agent ${name}: ${(e as Error).message}. See deep-agent ${name} --help.\n`);
      return 2;
    }
    if (e instanceof DeepAgentError) {
      io.stderr.write(`deep-agent: ${e.message}\n`);
      if (debug && e.stack) io.stderr.write(`${e.stack}\n`);
      return 1;
    }
    io.stderr.write(`deep-agent: unexpected error: ${(e as Error)?.message ?? String(e)}${debug ? '' : ' (set DEEP_AGENT_DEBUG=1 for details)'}\n`);
    if (debug && (e as Error)?.stack) io.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}
