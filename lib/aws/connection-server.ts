/**
 * Starting a connection's MCP server inside its E2B sandbox, over the sandbox's stdio channel, and turning its
 * tools into the agent's `mcp__<name>__<tool>` tools. Used by the two functions allowed to decrypt a
 * connection's credentials: the keeper (start, health check) and the agent (a task's tools). A stdio server
 * speaks to one client, so each of them starts its own server process in the connection's long-lived sandbox;
 * the sandbox (and what the server keeps in its workspace) is what the connection owns.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult, Tool as McpWireTool } from '@modelcontextprotocol/sdk/types.js';
import { DeepAgentError, toErrorInfo } from '../errors/index.js';
import { credentialEnv, resolveStartCommand, type McpServerDefinition } from '../mcp-connections/index.js';
import { sandboxedStdio, stdioTransport, ToolNameAllocator, toToolOutput, type SandboxedTransport } from '../mcp/index.js';
import type { Sandbox } from '../sandbox/index.js';
import { Redactor } from '../secrets/index.js';
import type { Tool } from '../tools/index.js';

/** Node and node_modules as the E2B template has them, for `{node}` and `{nodeModules}` in definitions. */
export interface ConnectionServerRuntime {
  node: string;
  nodeModules: string;
}

/** E2B's base template has Node on PATH and no project node_modules: catalog entries on AWS use `npx` or `{node}` with a template of theirs. */
export const E2B_CONNECTION_RUNTIME: ConnectionServerRuntime = { node: 'node', nodeModules: '/home/user/node_modules' };

/** One running server process of a connection, with the client talking to it. */
export interface ConnectionServer {
  client: Client;
  tools: McpWireTool[];
  close(): Promise<void>;
}

/**
 * Starts the definition's server in `sandbox` with the decrypted credentials in its environment (never on a
 * command line) and lists its tools (`tools/list`: the health check). Errors name no credential value.
 *
 * @example
 * const server = await startConnectionServer(sandbox, definition, credentials, { runtime: E2B_CONNECTION_RUNTIME });
 * try { console.log(server.tools.map((t) => t.name)); } finally { await server.close(); }
 */
export async function startConnectionServer(
  sandbox: Sandbox,
  definition: McpServerDefinition,
  credentials: Record<string, unknown>,
  options: { runtime: ConnectionServerRuntime; timeoutMs?: number; redactor?: Redactor },
): Promise<ConnectionServer> {
  const redactor = options.redactor ?? new Redactor();
  const secretEnv = credentialEnv(definition, credentials);
  for (const v of Object.values(secretEnv)) redactor.add(v);
  const start = resolveStartCommand(definition, { ...options.runtime, workspace: sandbox.workdir });
  let stderrTail = '';
  let transport: SandboxedTransport | undefined;
  const client = new Client({ name: 'deep-agent-connections', version: '0.1.0' });
  const timeout = options.timeoutMs ?? 30_000;
  try {
    transport = await stdioTransport(sandboxedStdio(sandbox, { ...start, env: { ...start.env, ...secretEnv }, network: definition.network }), {
      onStderr: (chunk) => {
        stderrTail = (stderrTail + chunk).slice(-1_000);
      },
    });
    await client.connect(transport, { timeout });
    const tools: McpWireTool[] = [];
    if (client.getServerCapabilities()?.tools) {
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : {}, { timeout });
        tools.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor);
    }
    const opened = transport;
    return {
      client,
      tools,
      close: async () => {
        await client.close().catch(() => {});
        await opened.close().catch(() => {});
      },
    };
  } catch (e) {
    await client.close().catch(() => {});
    await transport?.close().catch(() => {});
    const tail = stderrTail.trim().split('\n').slice(-2).join(' | ');
    throw new DeepAgentError('mcp_error', redactor.redactString(`${errorLine(e)}${tail ? ` (stderr: ${tail})` : ''}`));
  }
}

/** The first line of an error, short. */
export const errorLine = (e: unknown): string => toErrorInfo(e).message.split('\n')[0]!.slice(0, 500);

/**
 * The agent tools of started connection servers, named `mcp__<connection name>__<tool>`; a call extends the
 * connection sandbox's lifetime. Errors and results pass through `redactor` (which knows the credentials), so
 * an echoed token never reaches a store.
 *
 * @example
 * const tools = connectionTools([{ name: 'github', server, sandbox }], redactor);
 */
export function connectionTools(
  started: Array<{ name: string; server: ConnectionServer; sandbox: Sandbox }>,
  options: { callTimeoutMs?: number; redactor: Redactor },
): Tool[] {
  const names = new ToolNameAllocator();
  const out: Tool[] = [];
  for (const { name, server, sandbox } of started) {
    for (const t of server.tools) {
      out.push({
        name: names.allocate(name, t.name),
        description: `${t.description?.trim() || t.title || t.name} (MCP connection "${name}")`,
        inputSchema: { ...(t.inputSchema as Record<string, unknown>), type: 'object' },
        execute: async (input, ctx) => {
          await sandbox.extendLifetime?.().catch(() => {});
          try {
            const result = (await server.client.callTool({ name: t.name, arguments: (input ?? {}) as Record<string, unknown> }, undefined, {
              timeout: options.callTimeoutMs ?? 60_000,
              ...(ctx.signal ? { signal: ctx.signal } : {}),
            })) as CallToolResult;
            return toToolOutput(result);
          } catch (e) {
            throw new DeepAgentError('mcp_error', options.redactor.redactString(`${name}/${t.name} failed: ${errorLine(e)}`));
          }
        },
      });
    }
  }
  return out;
}
