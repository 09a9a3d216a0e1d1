/**
 * The one MCP server connection the hub and the connection manager share, against a real SDK server (over the
 * SDK's in-memory transport pair): every page of the tool list, annotations kept, a call's timeout, and one
 * reconnect when the transport drops; and MCP errors told apart by their JSON-RPC code, as the SDK's are.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, UrlElicitationRequiredError, type Tool as McpWireTool } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { describeConnectError, mcpErrorCode, McpErrorCode, McpServerConnection, ToolNameAllocator } from '../../lib/mcp/index.js';
import type { ToolContext } from '../../lib/tools/index.js';

const ctx = { signal: new AbortController().signal } as unknown as ToolContext;
const tool = (name: string, annotations?: McpWireTool['annotations']): McpWireTool => ({ name, inputSchema: { type: 'object' }, ...(annotations ? { annotations } : {}) });
/** Three pages: the server hands out `nextCursor` until the last. */
const PAGES: McpWireTool[][] = [[tool('read', { readOnlyHint: true })], [tool('wipe', { destructiveHint: true })], [tool('hang'), tool('echo')]];

/** A real SDK server with a paged tool list; each `open()` starts a fresh one, as a respawned process would. */
function pagedServer() {
  const servers: InMemoryTransport[] = [];
  const open = async () => {
    const [client, serverSide] = InMemoryTransport.createLinkedPair();
    const server = new Server({ name: 'paged', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async (req) => {
      const page = Number(req.params?.cursor ?? 0);
      return { tools: PAGES[page]!, ...(page + 1 < PAGES.length ? { nextCursor: String(page + 1) } : {}) };
    });
    server.setRequestHandler(CallToolRequestSchema, async (req) => {
      if (req.params.name === 'hang') await new Promise(() => {});
      return { content: [{ type: 'text', text: `${req.params.name}: ${JSON.stringify(req.params.arguments)}` }] };
    });
    await server.connect(serverSide);
    servers.push(serverSide);
    return client;
  };
  return { open, servers };
}

let connection: McpServerConnection | undefined;
afterEach(async () => connection?.close());

describe('McpServerConnection', () => {
  it('lists every page of tools and adapts them with their annotations', async () => {
    // prepare
    const { open } = pagedServer();
    connection = new McpServerConnection({ name: 'paged', transports: () => [{ kind: 'stdio', open }] });
    // act
    await connection.connect();
    const tools = connection.agentTools(new ToolNameAllocator());
    // assess
    expect(connection.state).toBe('connected');
    expect(tools.map((t) => t.name)).toEqual(['mcp__paged__read', 'mcp__paged__wipe', 'mcp__paged__hang', 'mcp__paged__echo']);
    expect(tools[0]!.annotations).toEqual({ readOnlyHint: true });
    expect(tools[1]!.annotations).toEqual({ destructiveHint: true });
    expect(tools[2]!.annotations).toBeUndefined();
    expect(await tools[3]!.execute({ x: 1 }, ctx)).toEqual({ content: [{ type: 'text', text: 'echo: {"x":1}' }] });
  });

  it('a call that gets no answer ends with mcp_error after the call timeout', async () => {
    const { open } = pagedServer();
    connection = new McpServerConnection({ name: 'paged', transports: () => [{ kind: 'stdio', open }], callTimeoutMs: 200 });
    await connection.connect();
    await expect(connection.callTool('hang', {})).rejects.toMatchObject({ code: 'mcp_error', message: 'paged/hang timed out after 0 s' });
  });

  it('reconnects once when the transport dropped, and says why when the server stays away', async () => {
    // prepare
    const { open, servers } = pagedServer();
    let up = true;
    connection = new McpServerConnection({
      name: 'paged',
      transports: () => [{ kind: 'stdio', open: () => (up ? open() : Promise.reject(new Error('spawn failed: no such server'))) }],
    });
    await connection.connect();
    // act: the server side goes away (a crash)
    await servers[0]!.close();
    const after = await connection.callTool('echo', { n: 2 });
    up = false;
    await servers[1]!.close();
    const failure = await connection.callTool('echo', {}).catch((e: unknown) => e);
    // assess
    expect(after.content).toEqual([{ type: 'text', text: 'echo: {"n":2}' }]);
    expect(servers).toHaveLength(2);
    expect(failure).toMatchObject({ code: 'mcp_error', message: 'MCP server "paged" is unavailable: spawn failed: no such server' });
    expect(connection.state).toBe('failed');
  });
});

describe('MCP errors, recognised by their code', () => {
  it('the codes the hub tells apart are the SDK\'s own', () => {
    expect(McpErrorCode).toEqual({ ConnectionClosed: ErrorCode.ConnectionClosed, RequestTimeout: ErrorCode.RequestTimeout, MethodNotFound: ErrorCode.MethodNotFound });
  });

  it('an McpError (or a subclass) gives its code; a transport error with an HTTP status in `code` gives none', () => {
    expect(mcpErrorCode(new McpError(ErrorCode.RequestTimeout, 'slow'))).toBe(ErrorCode.RequestTimeout);
    expect(mcpErrorCode(new UrlElicitationRequiredError([]))).toBe(ErrorCode.UrlElicitationRequired);
    expect(mcpErrorCode(new StreamableHTTPError(404, 'Not Found'))).toBeUndefined();
    expect(mcpErrorCode(Object.assign(new Error('ECONNRESET'), { code: 'ECONNRESET' }))).toBeUndefined();
    expect(describeConnectError(new McpError(ErrorCode.ConnectionClosed, 'closed'))).toBe('the server exited before it finished starting');
    expect(describeConnectError(new McpError(ErrorCode.RequestTimeout, 'slow'))).toBe('the server did not answer the MCP handshake in time');
    expect(describeConnectError(new StreamableHTTPError(-32001, 'odd'))).toBe('Streamable HTTP error: odd');
  });
});
