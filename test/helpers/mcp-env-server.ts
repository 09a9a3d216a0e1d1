/** A tiny stdio MCP server whose one tool reports the environment it was started with. */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const server = new McpServer({ name: 'env-reporter', version: '1.0.0' });
server.registerTool('report_env', { description: 'Returns the environment variable names and values', annotations: { readOnlyHint: true } }, async () => ({
  content: [{ type: 'text', text: JSON.stringify(process.env) }],
}));
await server.connect(new StdioServerTransport());
