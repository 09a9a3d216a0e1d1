/**
 * A scripted Anthropic-compatible Messages API server, so the real `@anthropic-ai/sdk` is exercised over HTTP
 * (via `ANTHROPIC_BASE_URL`) without the live API.
 *
 * It replies from a script (text, tool_use, errors with retry-after, delays), streams when asked, records every
 * request, and simulates prompt-cache accounting: tokens are estimated as characters / 4 per block, and a
 * prefix ending at a `cache_control` breakpoint is "written" once and "read" by later requests that repeat it
 * (the API's minimum cacheable length is not modelled).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface ScriptedToolUse {
  name: string;
  input: unknown;
  id?: string;
}

export type ScriptedReply =
  | {
      text?: string;
      toolUses?: ScriptedToolUse[];
      stopReason?: 'end_turn' | 'tool_use' | 'max_tokens' | 'stop_sequence';
      /** milliseconds to wait before answering */
      delayMs?: number;
      outputTokens?: number;
    }
  | { error: { status: number; type?: string; message?: string; retryAfterSeconds?: number } };

export interface CapturedRequest {
  index: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
  receivedAt: number;
}

export type Script = ScriptedReply[] | ((request: CapturedRequest) => ScriptedReply | Promise<ScriptedReply>);

export interface ScriptedModelServer {
  /** Base URL for ANTHROPIC_BASE_URL (no trailing slash). */
  url: string;
  requests: CapturedRequest[];
  /** Replaces the script (and resets the reply cursor). */
  setScript(script: Script): void;
  close(): Promise<void>;
}

/** Text of the first user message (the task prompt), whether sent as a string or as blocks. */
export function firstUserText(request: CapturedRequest): string {
  const c = request.body.messages[0]?.content;
  return typeof c === 'string' ? c : (c ?? []).map((b: any) => b.text ?? '').join('');
}

/** Tool-result blocks of the latest user message, keyed by tool_use_id. */
export function lastToolResults(request: CapturedRequest): Map<string, { text: string; isError: boolean }> {
  const out = new Map<string, { text: string; isError: boolean }>();
  const messages = request.body.messages as any[];
  const last = messages[messages.length - 1];
  if (!last || last.role !== 'user' || !Array.isArray(last.content)) return out;
  for (const b of last.content) {
    if (b.type !== 'tool_result') continue;
    const text = typeof b.content === 'string' ? b.content : (b.content ?? []).map((c: any) => c.text ?? `[${c.type}]`).join('');
    out.set(b.tool_use_id, { text, isError: b.is_error === true });
  }
  return out;
}

const tokensOf = (v: unknown): number => Math.max(1, Math.ceil(JSON.stringify(v).length / 4));

interface Segment {
  tokens: number;
  json: string;
  breakpoint: boolean;
}

function segmentsOf(body: any): Segment[] {
  const segs: Segment[] = [];
  const push = (block: any) => {
    const { cache_control, ...rest } = block ?? {};
    segs.push({ tokens: tokensOf(rest), json: JSON.stringify(rest), breakpoint: cache_control !== undefined });
  };
  // As the API does, a deferred tool (tool search) is not part of the prompt until a search loads it.
  for (const t of body.tools ?? []) if (t?.defer_loading !== true) push(t);
  const system = typeof body.system === 'string' ? [{ type: 'text', text: body.system }] : (body.system ?? []);
  for (const s of system) push(s);
  for (const m of body.messages ?? []) {
    const content = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    for (const c of content) push({ role: m.role, ...c });
  }
  return segs;
}

/** Cache accounting over a shared cache of prefix hashes. */
function accountCache(body: any, cache: Set<string>): { input: number; read: number; write: number } {
  const segs = segmentsOf(body);
  const hash = createHash('sha256');
  const prefixHashes: string[] = [];
  const cumTokens: number[] = [];
  let total = 0;
  for (const s of segs) {
    hash.update(s.json);
    prefixHashes.push(hash.copy().digest('hex'));
    total += s.tokens;
    cumTokens.push(total);
  }
  let readEnd = -1;
  for (let i = segs.length - 1; i >= 0; i--) if (cache.has(prefixHashes[i]!)) { readEnd = i; break; }
  let lastBp = -1;
  for (let i = 0; i < segs.length; i++) if (segs[i]!.breakpoint) { lastBp = i; cache.add(prefixHashes[i]!); }
  const read = readEnd >= 0 ? cumTokens[readEnd]! : 0;
  const write = lastBp > readEnd ? cumTokens[lastBp]! - read : 0;
  return { input: total - read - write, read, write };
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

/**
 * Starts the server on a random loopback port.
 *
 * @example
 * const model = await startScriptedModel([{ toolUses: [{ name: 'write_todos', input: { todos: [] } }] }, { text: 'done' }]);
 * process.env.ANTHROPIC_BASE_URL = model.url;
 */
export async function startScriptedModel(initial: Script): Promise<ScriptedModelServer> {
  let script = initial;
  let cursor = 0;
  const requests: CapturedRequest[] = [];
  const cache = new Set<string>();
  let toolIds = 0;

  const nextReply = async (req: CapturedRequest): Promise<ScriptedReply> => {
    if (typeof script === 'function') return script(req);
    const reply = script[cursor++];
    return reply ?? { error: { status: 400, message: `scripted model: no reply left for request ${req.index + 1}` } };
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method !== 'POST' || !req.url?.startsWith('/v1/messages')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: req.url } }));
      return;
    }
    let body: any;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const captured: CapturedRequest = { index: requests.length, body, headers: req.headers, receivedAt: Date.now() };
    requests.push(captured);
    const reply = await nextReply(captured);
    const requestId = `req_scripted_${captured.index + 1}`;

    if ('error' in reply) {
      const { status, type, message, retryAfterSeconds } = reply.error;
      const headers: Record<string, string> = { 'content-type': 'application/json', 'request-id': requestId };
      if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
      res.writeHead(status, headers).end(
        JSON.stringify({ type: 'error', error: { type: type ?? ERROR_TYPES[status] ?? 'api_error', message: message ?? `scripted ${status}` } }),
      );
      return;
    }
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));

    const content: any[] = [];
    if (reply.text) content.push({ type: 'text', text: reply.text });
    for (const t of reply.toolUses ?? []) content.push({ type: 'tool_use', id: t.id ?? `toolu_scripted_${++toolIds}`, name: t.name, input: t.input });
    const stopReason = reply.stopReason ?? (reply.toolUses?.length ? 'tool_use' : 'end_turn');
    const { input, read, write } = accountCache(body, cache);
    const usage = {
      input_tokens: input,
      output_tokens: reply.outputTokens ?? tokensOf(content),
      cache_read_input_tokens: read,
      cache_creation_input_tokens: write,
    };
    const message = { id: `msg_scripted_${captured.index + 1}`, type: 'message', role: 'assistant', model: body.model, content, stop_reason: stopReason, stop_sequence: null, usage };

    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': requestId }).end(JSON.stringify(message));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': requestId });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } });
    content.forEach((block, index) => {
      if (block.type === 'text') {
        send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
        for (const piece of block.text.match(/[\s\S]{1,16}/g) ?? []) {
          send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } });
        }
      } else {
        send('content_block_start', { type: 'content_block_start', index, content_block: { ...block, input: {} } });
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
      }
      send('content_block_stop', { type: 'content_block_stop', index });
    });
    send('message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
    send('message_stop', { type: 'message_stop' });
    res.end();
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setScript(s) {
      script = s;
      cursor = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
