/** Which servers a hub attaches: the config file, the presets, and the builder's deployed servers. */
import type { Config } from '../config/index.js';
import { loadDeployedServers } from './builder/registry.js';
import type { McpServerRuntime } from './builder/runtime.js';
import { loadMcpConfigFile, type ResolvedMcpServers } from './config.js';
import { describePresets, type PresetOptions } from './presets.js';

export interface ResolveMcpServersOptions extends PresetOptions {
  /** Include deployed servers from `<home>/mcp-servers` (they need a sandboxed `wrapSpawn`). */
  deployedRuntime?: McpServerRuntime;
}

/**
 * Every server to attach, and every one left out with its reason. A config-file entry wins over a preset or a
 * deployed server of the same name. Throws one line for an unreadable or invalid config file.
 *
 * @example
 * const resolved = resolveMcpServers(config, { deployedRuntime: mcpServerRuntime() });
 * const hub = new McpHub({ ...resolved, env: config.env, wrapSpawn: spawner.wrapSpawn });
 */
export function resolveMcpServers(config: Config, options: ResolveMcpServersOptions = {}): ResolvedMcpServers {
  const out: ResolvedMcpServers = { servers: {}, disabled: {} };
  const fromFile = config.mcp.configPath ? loadMcpConfigFile(config.mcp.configPath, config.env) : { servers: {}, disabled: {} };
  const taken = (name: string) => name in fromFile.servers || name in fromFile.disabled;
  if (options.deployedRuntime) {
    const deployed = loadDeployedServers(config.home, options.deployedRuntime);
    Object.assign(out.servers, deployed.servers);
    Object.assign(out.disabled, deployed.disabled);
  }
  for (const p of describePresets(config, options)) {
    if (taken(p.name)) continue;
    if (p.spec) out.servers[p.name] = p.spec;
    else out.disabled[p.name] = p.reason;
  }
  for (const name of Object.keys(fromFile.servers)) delete out.disabled[name];
  for (const name of Object.keys(fromFile.disabled)) delete out.servers[name];
  Object.assign(out.servers, fromFile.servers);
  Object.assign(out.disabled, fromFile.disabled);
  out.secrets = fromFile.secrets ?? [];
  return out;
}
