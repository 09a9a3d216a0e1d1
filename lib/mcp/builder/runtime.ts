/**
 * How built MCP servers get Node and their dependencies (the MCP SDK and zod).
 * - Local sandboxes (bubblewrap): offline, Node 24 and the project's own node_modules mounted read-only; a
 *   server project reaches them through a `node_modules` symlink.
 * - Remote sandboxes (E2B, no `wrapSpawn`): nothing of this machine can be mounted there, so the template's
 *   `node` runs the server and `npm install` fetches its dependencies (network on while it runs), unless the
 *   template already has them (`remote.nodeModules`).
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeepAgentError } from '../../errors/index.js';
import type { Sandbox } from '../../sandbox/index.js';

/** Where the project's node_modules appears inside the sandbox. */
export const SANDBOX_NODE_MODULES = '/opt/deep-agent/node_modules';
/** Where the Node binary's directory appears when it is not inside node_modules. */
export const SANDBOX_NODE_DIR = '/opt/deep-agent/node-bin';
/** Installs a built server's dependencies (its package.json) in a remote sandbox. */
export const DEFAULT_REMOTE_INSTALL = 'npm install --no-audit --no-fund --omit=dev --no-package-lock --loglevel=error';

/** Node and dependencies of built servers in a sandbox that cannot mount this installation (E2B). */
export interface RemoteServerRuntime {
  /** Node inside the sandbox; at least 22.18, since servers are TypeScript run by type stripping. @default 'node' */
  node?: string;
  /** A node_modules with `@modelcontextprotocol/sdk` and `zod` already in the sandbox (a custom template): linked, no install. */
  nodeModules?: string;
  /** Run in the project directory, with network on, when `nodeModules` is not given. @default DEFAULT_REMOTE_INSTALL */
  installCommand?: string;
  /** @default 300_000 */
  installTimeoutMs?: number;
}

export interface McpServerRuntime {
  /** node_modules as seen inside the sandbox */
  nodeModules: string;
  /** the Node binary as seen inside the sandbox */
  node: string;
  /** node_modules on the host (deployed servers link to it, so Claude Code can run them) */
  hostNodeModules: string;
  /** the Node binary on the host */
  hostNode: string;
  /** read-only mounts to give the sandbox provider (`BubblewrapSandboxProvider({ readOnlyMounts })`) */
  mounts: { hostPath: string; sandboxPath: string }[];
  /** For sandboxes without `wrapSpawn` (E2B). @default { node: 'node' } with `npm install` */
  remote?: RemoteServerRuntime;
}

/**
 * The runtime of built servers from this installation: its node_modules and the Node running this process.
 *
 * @example
 * const runtime = mcpServerRuntime();
 * const provider = new BubblewrapSandboxProvider({ home: config.home, readOnlyMounts: runtime.mounts });
 */
export function mcpServerRuntime(options: { hostNodeModules?: string; hostNode?: string } = {}): McpServerRuntime {
  const hostNodeModules = options.hostNodeModules ?? projectNodeModules();
  const hostNode = options.hostNode ?? process.execPath;
  const mounts = [{ hostPath: hostNodeModules, sandboxPath: SANDBOX_NODE_MODULES }];
  let node: string;
  if (hostNode.startsWith(`${hostNodeModules}/`)) {
    node = SANDBOX_NODE_MODULES + hostNode.slice(hostNodeModules.length);
  } else {
    mounts.push({ hostPath: dirname(hostNode), sandboxPath: SANDBOX_NODE_DIR });
    node = `${SANDBOX_NODE_DIR}/${hostNode.slice(dirname(hostNode).length + 1)}`;
  }
  return { nodeModules: SANDBOX_NODE_MODULES, node, hostNodeModules, hostNode, mounts };
}

function projectNodeModules(): string {
  const sdk = fileURLToPath(import.meta.resolve('@modelcontextprotocol/sdk/server/mcp.js'));
  const at = sdk.lastIndexOf('/node_modules/@modelcontextprotocol/');
  return sdk.slice(0, at + '/node_modules'.length);
}

/**
 * Makes the server project in `dir` (workspace-relative) runnable in `sandbox` and returns the Node to run it
 * with: locally a link to the mounted node_modules; in a remote sandbox a link to the template's node_modules,
 * or `npm install` with network on (skipped when the dependencies are already there).
 *
 * @example
 * const { node } = await prepareServerRuntime(sandbox, 'mcp-servers/calc', runtime);
 * const transport = await stdioTransport(sandboxedStdio(sandbox, { command: node, args: [ENTRY], cwd: 'mcp-servers/calc' }));
 */
export async function prepareServerRuntime(sandbox: Sandbox, dir: string, runtime: McpServerRuntime): Promise<{ node: string }> {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const remote = sandbox.wrapSpawn ? undefined : (runtime.remote ?? {});
  const linkTo = remote ? remote.nodeModules : runtime.nodeModules;
  if (linkTo) {
    const r = await sandbox.run(`ln -sfn ${q(linkTo)} node_modules`, { cwd: dir, timeoutMs: 10_000 });
    if (r.exitCode !== 0) throw new DeepAgentError('sandbox_error', `cannot link node_modules in ${dir}: ${r.stderr.trim()}`);
    return { node: remote ? (remote.node ?? 'node') : runtime.node };
  }
  const install = remote?.installCommand ?? DEFAULT_REMOTE_INSTALL;
  const r = await sandbox.run(`if [ -d node_modules/@modelcontextprotocol/sdk ] && [ -d node_modules/zod ]; then exit 0; fi; ${install}`, {
    cwd: dir,
    network: true,
    timeoutMs: remote?.installTimeoutMs ?? 300_000,
  });
  if (r.exitCode !== 0) {
    const why = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-5).join('\n');
    throw new DeepAgentError('sandbox_error', `installing the server's dependencies in ${dir} failed (${install})${r.timedOut ? ': timed out' : ''}${why ? `:\n${why}` : ''}`);
  }
  return { node: remote?.node ?? 'node' };
}
