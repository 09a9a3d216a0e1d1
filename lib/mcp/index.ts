/** MCP: the hub that attaches servers, the GitHub/Notion presets, and the MCP server builder tools. */
export * from './config.js';
export * from './names.js';
export * from './hub.js';
export * from './presets.js';
export * from './approval.js';
export * from './builder/index.js';
export * from './servers.js';
