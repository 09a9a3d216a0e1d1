/** The `deep-agent` command line. `main` returns the exit code; user mistakes print one line, never a stack. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DeepAgentError } from '../errors/index.js';
import { UsageError, type CliIo, type Command } from './io.js';
import { runCommand } from './commands/run.js';
import { chatCommand } from './commands/chat.js';
import { serveCommand } from './commands/serve.js';
import { submitCommand, statusCommand, logsCommand, cancelCommand, approveCommand, schedulesCommand, tasksCommand } from './commands/api-commands.js';
import { mcpCommand } from './commands/mcp.js';
import { examplesCommand } from './commands/examples.js';

export type { CliIo, Command } from './io.js';
export { UsageError } from './io.js';

const COMMANDS: Command[] = [runCommand, chatCommand, mcpCommand, serveCommand, submitCommand, tasksCommand, statusCommand, logsCommand, cancelCommand, approveCommand, schedulesCommand, examplesCommand];

/** Adds commands (serve, submit, mcp, examples, ...) registered by other parts. */
export function registerCommands(...commands: Command[]): void {
  for (const c of commands) if (!COMMANDS.some((x) => x.name === c.name)) COMMANDS.push(c);
}

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `deep-agent: a Claude agent that plans and executes tasks in an isolated sandbox

Usage: deep-agent <command> [options]   (deep-agent <command> --help for details)

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
  if (name === '--version') {
    io.stdout.write('deep-agent 0.1.0\n');
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`deep-agent: unknown command "${name}". Run deep-agent --help for the list.\n`);
    return 2;
  }
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
