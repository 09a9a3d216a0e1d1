/** Real MCP servers for tests: server-everything over stdio or streamable HTTP, and a tiny env-reporting server. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { StdioServerSpec, HttpServerSpec } from '../../lib/mcp/index.js';

export const EVERYTHING_BIN = fileURLToPath(new URL('../../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url));
export const ENV_SERVER = fileURLToPath(new URL('./mcp-env-server.ts', import.meta.url));

/** server-everything over stdio, run by the current Node. */
export const everythingStdio = (): StdioServerSpec => ({ transport: 'stdio', command: process.execPath, args: [EVERYTHING_BIN, 'stdio'], env: {} });

/** A free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface RunningHttpServer {
  spec: HttpServerSpec;
  child: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

/** Starts server-everything in streamable HTTP mode on a random port and waits until it listens. */
export async function startEverythingHttp(port?: number, mode: 'streamableHttp' | 'sse' = 'streamableHttp'): Promise<RunningHttpServer> {
  const p = port ?? (await freePort());
  const child = spawn(process.execPath, [EVERYTHING_BIN, mode], { env: { PATH: process.env.PATH ?? '', PORT: String(p) }, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server-everything did not start in 10 s')), 10_000);
    const onData = (d: Buffer) => {
      if (/listening|running on port/i.test(d.toString())) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr!.on('data', onData);
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server-everything exited with ${code}`)));
  });
  return {
    spec: { transport: 'http', url: `http://127.0.0.1:${p}/${mode === 'sse' ? 'sse' : 'mcp'}`, headers: {} },
    child,
    port: p,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Source of a stdio MCP server (run with `node --input-type=module -e`) whose one tool, `leak`, fails with the
 * value of its LEAKED_VALUE variable in the error: an upstream that echoes the token it was given. Inline,
 * so that it runs where only node_modules is mounted (a connection's sandbox); `nodeModules` as that place sees it.
 */
export const leakyServerSource = (nodeModules: string): string => `
import { McpServer } from '${nodeModules}/@modelcontextprotocol/sdk/dist/esm/server/mcp.js';
import { StdioServerTransport } from '${nodeModules}/@modelcontextprotocol/sdk/dist/esm/server/stdio.js';
const server = new McpServer({ name: 'leaky', version: '1.0.0' });
server.registerTool('leak', { description: 'Fails, echoing its token', annotations: { readOnlyHint: true } }, async () => {
  throw new Error('upstream refused the token ' + process.env.LEAKED_VALUE);
});
await server.connect(new StdioServerTransport());
`;
