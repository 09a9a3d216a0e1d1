/**
 * Stdio MCP servers inside a sandbox, whatever the provider: on bubblewrap the SDK's `StdioClientTransport`
 * spawns the sandbox's `wrapSpawn` line on this host; on a remote sandbox (E2B), where nothing can be spawned
 * here, `ChannelClientTransport` speaks the same newline-delimited JSON-RPC over `Sandbox.openStdio`.
 * `sandboxedStdio` is the one place that picks between them. The SDK's stdio modules load when a transport is
 * made, not with this folder: a run with no stdio server never loads them (nor cross-spawn, nor the SDK's types).
 */
import type { ReadBuffer } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { DeepAgentError } from '../errors/index.js';
import type { Sandbox, SpawnSpec, StdioChannel } from '../sandbox/index.js';

/** The command line `Sandbox.wrapSpawn` returns. */
export type WrappedCommand = { command: string; args: string[]; env: Record<string, string>; cwd?: string };

/**
 * How a sandboxed stdio server is reached: a host command line to spawn (`wrapSpawn`), or a channel that the
 * sandbox opens (`openStdio`).
 */
export type SandboxedStdio = { kind: 'command'; line: WrappedCommand } | { kind: 'channel'; open(): Promise<StdioChannel> };

/** A client transport to a sandboxed stdio server; `pid` is the process id once started (host or sandbox). */
export type SandboxedTransport = Transport & { readonly pid: number | null | undefined };

/**
 * Picks how to run `spec` in `sandbox`: `wrapSpawn` when the sandbox has it, else `openStdio`. Throws
 * `sandbox_unavailable` when it has neither.
 *
 * @example
 * const transport = await stdioTransport(sandboxedStdio(sandbox, { command: 'node', args: ['server.js'] }));
 * await new Client(info).connect(transport);
 */
export function sandboxedStdio(sandbox: Sandbox, spec: SpawnSpec): SandboxedStdio {
  if (sandbox.wrapSpawn) return { kind: 'command', line: sandbox.wrapSpawn(spec) };
  if (sandbox.openStdio) {
    const open = sandbox.openStdio.bind(sandbox);
    return { kind: 'channel', open: () => open(spec) };
  }
  throw new DeepAgentError('sandbox_unavailable', `the ${sandbox.provider} sandbox cannot run stdio processes`);
}

/**
 * The largest JSON-RPC line read from a stdio server (the SDK's default is 10 MB). A larger result is not
 * readable at all, so it is an error naming this limit; anything below reaches the loop, which truncates it
 * for the model with a note.
 */
export const MCP_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** The SDK's words when a line passes the read limit; the hub recognises the overflow by them. */
export const MESSAGE_TOO_LARGE = /ReadBuffer exceeded maximum size/;

export interface StdioTransportOptions {
  onStderr?: (chunk: string) => void;
  /** @default MCP_MAX_MESSAGE_BYTES (64 MB) */
  maxMessageBytes?: number;
}

/**
 * The client transport for a sandboxed server; nothing starts until the client connects (`start()`).
 *
 * @example
 * const transport = await stdioTransport(sandboxedStdio(sandbox, spec), { onStderr: (s) => (tail += s) });
 */
export async function stdioTransport(how: SandboxedStdio, options: StdioTransportOptions = {}): Promise<SandboxedTransport> {
  if (how.kind === 'channel') return new ChannelClientTransport(how.open, options);
  const { line } = how;
  const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
  const transport = new StdioClientTransport({
    command: line.command,
    args: line.args,
    env: line.env,
    stderr: 'pipe',
    maxBufferSize: options.maxMessageBytes ?? MCP_MAX_MESSAGE_BYTES,
    ...(line.cwd ? { cwd: line.cwd } : {}),
  });
  if (options.onStderr) {
    const onStderr = options.onStderr;
    transport.stderr?.on('data', (chunk: Buffer) => onStderr(chunk.toString('utf8')));
  }
  return transport;
}

/**
 * An MCP client `Transport` over a `StdioChannel`, framed exactly as the SDK's stdio transport (one JSON-RPC
 * message per line). The channel is opened by `start()`; the process ending is `onclose`; a line that is not
 * JSON-RPC is `onerror` and the stream goes on.
 *
 * @example
 * const transport = new ChannelClientTransport(() => sandbox.openStdio!({ command: 'node', args: ['server.js'] }));
 * await client.connect(transport);
 */
export class ChannelClientTransport implements SandboxedTransport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T) => void;
  private channel: StdioChannel | undefined;
  private buffer: ReadBuffer | undefined;
  private serialize: ((message: JSONRPCMessage) => string) | undefined;
  private started = false;
  private closed = false;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly open: () => Promise<StdioChannel>,
    private readonly options: StdioTransportOptions = {},
  ) {}

  get pid(): number | undefined {
    return this.channel?.pid;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('ChannelClientTransport already started; Client.connect calls start() itself');
    this.started = true;
    const { ReadBuffer, serializeMessage } = await import('@modelcontextprotocol/sdk/shared/stdio.js');
    const buffer = new ReadBuffer({ maxBufferSize: this.options.maxMessageBytes ?? MCP_MAX_MESSAGE_BYTES });
    this.buffer = buffer;
    this.serialize = serializeMessage;
    const channel = await this.open();
    this.channel = channel;
    if (this.options.onStderr) channel.onStderr(this.options.onStderr);
    channel.onData((chunk) => {
      try {
        buffer.append(Buffer.from(chunk, 'utf8'));
      } catch (e) {
        this.onerror?.(e as Error);
        return;
      }
      this.drain();
    });
    channel.onExit(() => this.finish());
  }

  send(message: JSONRPCMessage): Promise<void> {
    const { channel, serialize } = this;
    if (!channel || !serialize || this.closed) return Promise.reject(new Error('Not connected'));
    // One write per message, in order: concurrent requests never interleave on the wire.
    const next = this.writes.then(() => channel.write(serialize(message)));
    this.writes = next.catch(() => {});
    return next;
  }

  async close(): Promise<void> {
    const channel = this.channel;
    if (channel && !this.closed) await channel.close();
    this.finish();
  }

  private drain(): void {
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.buffer?.readMessage() ?? null;
      } catch (e) {
        this.onerror?.(e as Error);
        continue;
      }
      if (message === null) return;
      this.onmessage?.(message);
    }
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.buffer?.clear();
    this.onclose?.();
  }
}
