/**
 * Deployed MCP servers: `<DEEP_AGENT_HOME>/mcp-servers/<name>/` holds the project and a `manifest.json`.
 * A later process loads them from here and runs each inside a sandbox of its own.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import * as z from 'zod';
import type { Sandbox, SandboxProvider, SpawnSpec } from '../../sandbox/index.js';
import type { ResolvedMcpServers, StdioServerSpec } from '../config.js';
import { sandboxedStdio, type SandboxedStdio } from '../channel-transport.js';
import { prepareServerRuntime, type McpServerRuntime } from './runtime.js';
import { ENTRY } from './templates.js';

export const DeployManifestSchema = z.object({
  name: z.string(),
  description: z.string(),
  entry: z.string(),
  tools: z.array(z.object({ name: z.string(), description: z.string().optional() })),
  network: z.boolean(),
  deployedAt: z.string(),
});
export type DeployManifest = z.infer<typeof DeployManifestSchema>;

export const registryDir = (home: string) => join(home, 'mcp-servers');

/**
 * Every deployed server's manifest; broken entries are reported in `disabled`.
 *
 * @example
 * const { manifests } = readRegistry(config.home);
 */
export function readRegistry(home: string): { manifests: DeployManifest[]; disabled: Record<string, string> } {
  const dir = registryDir(home);
  const manifests: DeployManifest[] = [];
  const disabled: Record<string, string> = {};
  if (!existsSync(dir)) return { manifests, disabled };
  for (const name of readdirSync(dir).sort()) {
    const file = join(dir, name, 'manifest.json');
    try {
      manifests.push(DeployManifestSchema.parse(JSON.parse(readFileSync(file, 'utf8'))));
    } catch (e) {
      disabled[name] = `${file} is missing or invalid (${(e as Error).message.split('\n')[0]})`;
    }
  }
  return { manifests, disabled };
}

/** The hub spec of a deployed server: run by Node inside a sandbox, from its registry directory. */
export function deployedServerSpec(home: string, manifest: DeployManifest, runtime: McpServerRuntime): StdioServerSpec {
  return {
    transport: 'stdio',
    command: runtime.node,
    args: [manifest.entry],
    env: {},
    cwd: join(registryDir(home), manifest.name),
    sandboxed: true,
    network: manifest.network,
    source: 'deployed',
  };
}

/**
 * Deployed servers as hub specs (pair them with `createDeployedServerSpawner` as the hub's `wrapSpawn`).
 *
 * @example
 * const deployed = loadDeployedServers(config.home, runtime);
 */
export function loadDeployedServers(home: string, runtime: McpServerRuntime): ResolvedMcpServers {
  const { manifests, disabled } = readRegistry(home);
  return { servers: Object.fromEntries(manifests.map((m) => [m.name, deployedServerSpec(home, m, runtime)])), disabled };
}

/** The `.mcp.json` entry that runs a deployed server on the host, for Claude Code or Claude Desktop. */
export function claudeConfigEntry(home: string, manifest: DeployManifest, runtime: McpServerRuntime): Record<string, unknown> {
  return { mcpServers: { [manifest.name]: { command: runtime.hostNode, args: [join(registryDir(home), manifest.name, manifest.entry ?? ENTRY)] } } };
}

/** A `wrapSpawn` for the hub that runs each deployed server in a sandbox of its own. */
export interface DeployedServerSpawner {
  wrapSpawn(spec: SpawnSpec, server: string): Promise<SandboxedStdio>;
  /** Closes the servers' sandboxes. */
  close(): Promise<void>;
}

/**
 * Runs deployed servers in sandboxes: the server's files (host `spec.cwd`) are copied into a sandbox
 * workspace, given their dependencies (`prepareServerRuntime`: the read-only node_modules mount locally,
 * `npm install` or the template's node_modules on E2B) and started there, through `wrapSpawn` or `openStdio`.
 *
 * @example
 * const spawner = createDeployedServerSpawner(provider, runtime);
 * const hub = new McpHub({ ...loadDeployedServers(home, runtime), wrapSpawn: spawner.wrapSpawn });
 */
export function createDeployedServerSpawner(provider: SandboxProvider, runtime: McpServerRuntime): DeployedServerSpawner {
  const sandboxes = new Map<string, Sandbox>();
  return {
    async wrapSpawn(spec, server) {
      let sandbox = sandboxes.get(server);
      if (!sandbox) {
        sandbox = await provider.create({ taskId: `mcp-server-${server}` });
        sandboxes.set(server, sandbox);
      }
      const hostDir = spec.cwd!;
      for (const file of await listHostFiles(hostDir)) {
        await sandbox.writeFile(`server/${file}`, await readFile(join(hostDir, file)));
      }
      const { node } = await prepareServerRuntime(sandbox, 'server', runtime);
      // The registry's spec names this installation's Node; a remote sandbox runs its own.
      return sandboxedStdio(sandbox, { ...spec, command: spec.command === runtime.node ? node : spec.command, cwd: 'server' });
    },
    async close() {
      await Promise.all([...sandboxes.values()].map((s) => s.close()));
      sandboxes.clear();
    },
  };
}

/**
 * Gives the server project in `dir` its dependencies (see `prepareServerRuntime`, which also says which Node
 * to run it with).
 */
export async function linkNodeModules(sandbox: Sandbox, dir: string, runtime: McpServerRuntime): Promise<void> {
  await prepareServerRuntime(sandbox, dir, runtime);
}

async function listHostFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true })) {
      if (d.name === 'node_modules') continue;
      const p = join(dir, d.name);
      if (d.isDirectory()) await walk(p);
      else if (d.isFile()) out.push(relative(root, p));
    }
  };
  await walk(root);
  return out;
}
