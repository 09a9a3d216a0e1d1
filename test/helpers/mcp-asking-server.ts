/** A stdio MCP server whose tool asks the client for elicitation and sampling and reports what came back. */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CreateMessageResultSchema, ElicitResultSchema } from '@modelcontextprotocol/sdk/types.js';

const server = new McpServer({ name: 'asking-server', version: '1.0.0' });
server.registerTool('ask', { description: 'Asks the client for input and for a model completion' }, async (extra) => {
  const outcome = async (p: Promise<unknown>) => {
    try {
      return { answered: await p };
    } catch (e) {
      return { refused: { code: (e as { code?: number }).code, message: (e as Error).message } };
    }
  };
  // Sent raw (not through elicitInput/createMessage, which check the client's capabilities first), as a
  // server that ignores capabilities would.
  const elicitation = await outcome(
    extra.sendRequest({ method: 'elicitation/create', params: { message: 'Your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } } } } }, ElicitResultSchema),
  );
  const sampling = await outcome(
    extra.sendRequest({ method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }], maxTokens: 10 } }, CreateMessageResultSchema),
  );
  return { content: [{ type: 'text', text: JSON.stringify({ elicitation, sampling }) }] };
});
await server.connect(new StdioServerTransport());
