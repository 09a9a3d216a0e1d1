/**
 * The built-in tools the model sees (DESIGN section 3): planning, sandbox commands and files, packages, and
 * sandbox information. The `task` tool (sub-agents) is declared here and run by the agent loop.
 */
import * as z from 'zod';
import { DeepAgentError } from '../errors/index.js';
import { PlanItemSchema } from '../task/index.js';
import { defineTool, textOutput, type Tool } from './types.js';
import type { CommandResult } from '../sandbox/index.js';

const MAX_TIMEOUT_SECONDS = 1800;

function formatCommandResult(r: CommandResult): string {
  if (r.backgroundId) return `started in the background (id ${r.backgroundId}); its output goes to .deep-agent/background/${r.backgroundId}.log`;
  const parts = [`exit code: ${r.exitCode ?? 'killed'}${r.timedOut ? ' (timed out; the process tree was killed)' : ''}`];
  if (r.stdout) parts.push(`stdout:\n${r.stdout}`);
  if (r.stderr) parts.push(`stderr:\n${r.stderr}`);
  if (r.truncated) parts.push('(output was capped)');
  return parts.join('\n');
}

export const writeTodos = defineTool({
  name: 'write_todos',
  description:
    'Replace the task plan. Call it first to plan, then again whenever a step starts or finishes. ' +
    'Exactly one item should be in_progress while you work.',
  input: z.object({ todos: z.array(PlanItemSchema).max(100) }),
  run: async ({ todos }, ctx) => {
    await ctx.setPlan?.(todos);
    const done = todos.filter((t) => t.status === 'completed').length;
    return `Plan updated: ${todos.length} items, ${done} completed.`;
  },
});

export const runCommand = defineTool({
  name: 'run_command',
  description:
    'Run a shell command (bash -lc) in the sandbox workspace. No network unless network is true or a list of hosts ' +
    '("pkg.example.org", "*.cdn.example.org", "api.example.com:443"); true reaches public hosts, a list only those hosts, over HTTP(S) through a proxy named by HTTP_PROXY/HTTPS_PROXY. ' +
    'Loopback and private addresses (a server on this machine) are reachable only when listed literally ("127.0.0.1:8080"). ' +
    'The task may bound the network further; a host outside its allowlist is refused. ' +
    'Returns stdout, stderr and the exit code. Use background for servers; their output goes to a log file. ' +
    'Memory, processes and workspace disk are limited (see sandbox_info); a command that hits a limit is stopped with an error naming it.',
  input: z.object({
    command: z.string().min(1).max(100_000),
    cwd: z.string().optional().describe('directory relative to the workspace'),
    timeoutSeconds: z.number().int().positive().max(MAX_TIMEOUT_SECONDS).optional().describe('default 120; background commands have none unless given'),
    background: z.boolean().optional(),
    network: z
      .union([z.boolean(), z.array(z.string().min(1).max(260)).max(100)])
      .optional()
      .describe('true for network access (within the task allowlist), or the only hosts this command may reach'),
  }),
  run: async ({ command, cwd, timeoutSeconds, background, network }, ctx) => {
    const sandbox = await ctx.sandbox();
    const r = await sandbox.run(command, {
      ...(cwd ? { cwd } : {}),
      // A background process (a server) lives until the task ends unless a timeout is asked for.
      ...(timeoutSeconds || !background ? { timeoutMs: (timeoutSeconds ?? 120) * 1000 } : {}),
      ...(background ? { background } : {}),
      ...(network === true || (Array.isArray(network) && network.length) ? { network } : {}),
      signal: ctx.signal,
    });
    return textOutput(formatCommandResult(r), !r.backgroundId && r.exitCode !== 0);
  },
});

export const readFile = defineTool({
  name: 'read_file',
  description: 'Read a text file from the sandbox workspace (path relative to the workspace).',
  input: z.object({ path: z.string().min(1) }),
  annotations: { readOnlyHint: true },
  run: async ({ path }, ctx) => (await ctx.sandbox()).readFile(path),
});

export const writeFile = defineTool({
  name: 'write_file',
  description: 'Create or overwrite a file in the sandbox workspace; parent directories are created.',
  input: z.object({ path: z.string().min(1), content: z.string().max(5_000_000) }),
  run: async ({ path, content }, ctx) => {
    await (await ctx.sandbox()).writeFile(path, content);
    return `Wrote ${Buffer.byteLength(content)} bytes to ${path}.`;
  },
});

export const listFiles = defineTool({
  name: 'list_files',
  description: 'List files under a directory of the sandbox workspace (default: the workspace root).',
  input: z.object({ path: z.string().optional() }),
  annotations: { readOnlyHint: true },
  run: async ({ path }, ctx) => {
    const entries = await (await ctx.sandbox()).listFiles(path);
    if (entries.length === 0) return '(empty)';
    return entries.map((e) => `${e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : '-'} ${String(e.size).padStart(9)} ${e.path}`).join('\n');
  },
});

const PACKAGE_NAME = /^[A-Za-z0-9@][A-Za-z0-9._\-/@=<>~^:+]*$/;
export const installPackages = defineTool({
  name: 'install_packages',
  description: 'Install packages in the sandbox with pip, npm or apt (network is enabled for this call only).',
  input: z.object({
    manager: z.enum(['pip', 'npm', 'apt']),
    packages: z.array(z.string().min(1).max(214)).min(1).max(50),
  }),
  run: async ({ manager, packages }, ctx) => {
    const bad = packages.find((p) => !PACKAGE_NAME.test(p));
    if (bad) throw new DeepAgentError('invalid_input', `not a package name: ${JSON.stringify(bad)}`);
    const list = packages.map((p) => `'${p}'`).join(' ');
    const command = {
      pip: `python3 -m pip install --user --quiet ${list}`,
      npm: `npm install --no-fund --no-audit ${list}`,
      apt: `(command -v sudo >/dev/null && sudo apt-get install -y ${list}) || apt-get install -y ${list}`,
    }[manager];
    const r = await (await ctx.sandbox()).run(command, { network: true, timeoutMs: 600_000, signal: ctx.signal });
    return textOutput(formatCommandResult(r), r.exitCode !== 0);
  },
});

export const sandboxInfo = defineTool({
  name: 'sandbox_info',
  description: 'Sandbox id, provider, working directory, resources and time left.',
  input: z.object({}),
  annotations: { readOnlyHint: true },
  run: async (_input, ctx) => JSON.stringify(await (await ctx.sandbox()).info(), null, 2),
});

/** Declared here so the model sees it; the agent loop runs it (a sub-agent with its own context). */
export const subagentTool: Tool = defineTool({
  name: 'task',
  description:
    'Delegate a self-contained sub-task to a sub-agent with its own fresh context. It shares the sandbox, ' +
    'cannot delegate further, and returns only its final answer. Give it everything it needs in the prompt.',
  input: z.object({
    description: z.string().min(1).max(200).describe('a short name for the sub-task'),
    prompt: z.string().min(1).max(50_000),
    tools: z.array(z.string()).optional().describe('tool names the sub-agent may use (default: all but task)'),
  }),
  run: async () => {
    throw new DeepAgentError('tool_error', 'the task tool is run by the agent loop');
  },
});

/** All built-in tools, `task` included. */
export const builtinTools = (): Tool[] => [writeTodos, runCommand, readFile, writeFile, listFiles, installPackages, sandboxInfo, subagentTool];
