/** The MCP server builder: templates, runtime, registry of deployed servers, and the builder tools. */
export * from './runtime.js';
export * from './templates.js';
export * from './registry.js';
export * from './tools.js';
