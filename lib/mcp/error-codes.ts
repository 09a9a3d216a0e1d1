/**
 * The JSON-RPC error codes of the MCP SDK's `ErrorCode` that the hub tells apart. An MCP error is recognised by
 * its code, not by `instanceof McpError`, so that a process with no MCP server (`deep-agent run` with no
 * `.mcp.json`) never loads the SDK's types module (hundreds of zod schemas, ~15 ms of start-up).
 * test/unit/mcp-connection.test.ts checks these numbers against the SDK's.
 */
export const McpErrorCode = {
  ConnectionClosed: -32000,
  RequestTimeout: -32001,
  MethodNotFound: -32601,
} as const;

/**
 * The JSON-RPC code of an MCP protocol error (the SDK's `McpError`, which names itself so), else undefined.
 * Transport errors with an HTTP status in `code` (`StreamableHTTPError`, `SseError`) are not MCP errors.
 *
 * @example
 * if (mcpErrorCode(err) === McpErrorCode.RequestTimeout) throw new DeepAgentError('mcp_error', 'timed out');
 */
export function mcpErrorCode(err: unknown): number | undefined {
  if (!(err instanceof Error) || err.name !== 'McpError') return undefined;
  const { code } = err as { code?: unknown };
  return typeof code === 'number' ? code : undefined;
}
