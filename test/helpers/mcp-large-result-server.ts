/** A tiny stdio MCP server whose one tool answers with as many characters as asked: results past any cap. */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'large-result', version: '1.0.0' });
server.registerTool(
  'large_text',
  { description: 'Returns a text of `chars` characters', inputSchema: { chars: z.number().int().min(0) }, annotations: { readOnlyHint: true } },
  async ({ chars }) => ({ content: [{ type: 'text', text: 'x'.repeat(chars) }] }),
);
await server.connect(new StdioServerTransport());
