import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/index.js';
import { createModelClient, type RetryInfo } from '../../lib/model/index.js';
import { startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';

const tools = [{ name: 'echo', description: 'Echo text back', input_schema: { type: 'object' as const, properties: { text: { type: 'string' } } } }];
let server: ScriptedModelServer | undefined;
afterEach(async () => server?.close());

async function clientFor(s: ScriptedModelServer, options = {}) {
  const config = loadConfig({ ANTHROPIC_API_KEY: 'sk-ant-test-key-000000', ANTHROPIC_BASE_URL: s.url });
  return createModelClient(config, { retryBaseDelayMs: 1, ...options });
}

describe('model client over the real SDK and HTTP', () => {
  it('streams text deltas and reports usage with cost', async () => {
    server = await startScriptedModel([{ text: 'Hello from the scripted model, streamed in pieces.' }]);
    const model = await clientFor(server);
    const deltas: string[] = [];

    const res = await model.createMessage({ system: 'sys', messages: [{ role: 'user', content: 'hi' }], tools }, { onTextDelta: (d) => deltas.push(d) });

    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe('Hello from the scripted model, streamed in pieces.');
    expect(res.stopReason).toBe('end_turn');
    expect(res.usage.outputTokens).toBeGreaterThan(0);
    expect(res.usage.costUsd).toBeGreaterThan(0);
    expect(server.requests[0]!.body.stream).toBe(true);
    const h = server.requests[0]!.headers;
    expect(h['x-api-key'] ?? h['authorization']).toMatch(/sk-ant-test-key-000000$/);
  });

  it('returns tool_use blocks with their input', async () => {
    server = await startScriptedModel([{ toolUses: [{ name: 'echo', input: { text: 'x' } }] }]);
    const model = await clientFor(server);
    const res = await model.createMessage({ system: 's', messages: [{ role: 'user', content: 'go' }], tools });
    expect(res.stopReason).toBe('tool_use');
    expect(res.content[0]).toMatchObject({ type: 'tool_use', name: 'echo', input: { text: 'x' } });
  });

  it('retries 529 and 429 honouring retry-after, reporting each retry', async () => {
    server = await startScriptedModel([
      { error: { status: 529, retryAfterSeconds: 0 } },
      { error: { status: 429, retryAfterSeconds: 0.05 } },
      { text: 'ok' },
    ]);
    const model = await clientFor(server);
    const retries: RetryInfo[] = [];
    const res = await model.createMessage({ system: 's', messages: [{ role: 'user', content: 'go' }], tools }, { onRetry: (r) => retries.push(r) });
    expect(res.content[0]).toMatchObject({ type: 'text', text: 'ok' });
    expect(retries.map((r) => r.status)).toEqual([529, 429]);
    expect(retries[1]!.delayMs).toBe(50);
  });

  it('does not retry a 400 and names the failure in one line', async () => {
    server = await startScriptedModel([{ error: { status: 400, message: 'bad thing' } }, { text: 'never' }]);
    const model = await clientFor(server);
    await expect(model.createMessage({ system: 's', messages: [{ role: 'user', content: 'go' }], tools })).rejects.toMatchObject({
      code: 'model_error',
      message: expect.stringContaining('bad thing'),
    });
    expect(server.requests).toHaveLength(1);
  });

  it('marks 400, 401, 403, 404 and 413 not retryable (for the queue), and a 500 it gave up on retryable', async () => {
    for (const status of [400, 401, 403, 404, 413, 500]) {
      server = await startScriptedModel(() => ({ error: { status, message: `status ${status}` } }));
      const model = await clientFor(server, { maxRetries: 1 });
      const error = await model.createMessage({ system: 's', messages: [{ role: 'user', content: 'go' }], tools }).catch((e: unknown) => e);
      expect((error as { data?: unknown }).data, String(status)).toEqual({ status });
      expect((error as { retryable?: unknown }).retryable, String(status)).toBe(status === 500);
      expect(server.requests, String(status)).toHaveLength(status === 500 ? 2 : 1);
      await server.close();
    }
  });

  it('gives up after maxRetries with rate_limited', async () => {
    server = await startScriptedModel(() => ({ error: { status: 429, retryAfterSeconds: 0 } }));
    const model = await clientFor(server, { maxRetries: 2 });
    await expect(model.createMessage({ system: 's', messages: [{ role: 'user', content: 'go' }], tools })).rejects.toMatchObject({ code: 'rate_limited' });
    expect(server.requests).toHaveLength(3);
  });

  it('places at most 4 cache breakpoints and reads the cache from the second request on', async () => {
    server = await startScriptedModel([{ toolUses: [{ name: 'echo', input: { text: 'a' }, id: 'toolu_1' }] }, { text: 'done' }]);
    const model = await clientFor(server);
    const first = await model.createMessage({ system: 'You are a careful agent. '.repeat(50), messages: [{ role: 'user', content: 'go' }], tools });
    const second = await model.createMessage({
      system: 'You are a careful agent. '.repeat(50),
      messages: [
        { role: 'user', content: 'go' },
        { role: 'assistant', content: first.content as any },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'a' }] },
      ],
      tools,
    });
    expect(first.usage.cacheReadTokens).toBe(0);
    expect(first.usage.cacheWriteTokens).toBeGreaterThan(0);
    expect(second.usage.cacheReadTokens).toBeGreaterThanOrEqual(first.usage.cacheWriteTokens);
    for (const r of server.requests) expect(JSON.stringify(r.body).match(/cache_control/g)!.length).toBeLessThanOrEqual(4);
  });

  it('sends no cache_control when caching is off', async () => {
    server = await startScriptedModel([{ text: 'x' }]);
    const model = await clientFor(server, { promptCaching: false });
    const res = await model.createMessage({ system: 's', messages: [{ role: 'user', content: 'go' }], tools });
    expect(JSON.stringify(server.requests[0]!.body)).not.toContain('cache_control');
    expect(res.usage.cacheWriteTokens).toBe(0);
  });
});
