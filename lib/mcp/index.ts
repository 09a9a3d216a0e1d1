/**
 * MCP: the hub that attaches servers, the GitHub/Notion presets, and the MCP server builder tools.
 *
 * Wiring for a runtime (CLI, worker):
 *   const runtime = mcpServerRuntime();                      // Node + node_modules for built servers
 *   const provider = new BubblewrapSandboxProvider({ home, readOnlyMounts: runtime.mounts });
 *   const spawner = createDeployedServerSpawner(provider, runtime);
 *   const hub = new McpHub({ ...resolveMcpServers(config, { deployedRuntime: runtime }), env: config.env, wrapSpawn: spawner.wrapSpawn });
 *   await hub.start();                                        // never throws; see hub.status()
 *   runTask({ ..., tools: [...hub.tools({ servers }), ...createMcpBuilderTools({ hub, home, runtime })],
 *             approvalPolicy: destructiveApprovalPolicy() });
 *   finally: await hub.close(); await spawner.close();
 *
 * User-configured stdio servers run on the host (as Claude Code runs them) with only their declared env;
 * servers the builder deploys always run in a sandbox.
 */
export * from './config.js';
export * from './names.js';
export * from './connection.js';
export * from './error-codes.js';
export * from './hub.js';
export * from './channel-transport.js';
export * from './presets.js';
export * from './approval.js';
export * from './builder/index.js';
export * from './servers.js';
export * from "./attach.js";
export * from "./oauth/index.js";
