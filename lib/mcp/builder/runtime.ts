/**
 * How built MCP servers run offline: Node 24 and the project's own node_modules (with the MCP SDK and zod),
 * mounted read-only into the sandbox. A server project reaches them through a `node_modules` symlink.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the project's node_modules appears inside the sandbox. */
export const SANDBOX_NODE_MODULES = '/opt/deep-agent/node_modules';
/** Where the Node binary's directory appears when it is not inside node_modules. */
export const SANDBOX_NODE_DIR = '/opt/deep-agent/node-bin';

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
