import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defineTool } from '../../lib/tools/index.js';
import { MemoryJournal, runTask } from '../../lib/agent/index.js';
import { firstUserText, lastToolResults, startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';
import { memoryStore, modelFor, noSandbox, queuedTask, sleepyTool, throwingTool } from '../helpers/factories.js';

let server: ScriptedModelServer | undefined;
afterEach(async () => server?.close());

describe('the plan-execute loop', () => {
  it('keeps the plan from write_todos and finishes with the final answer', async () => {
    server = await startScriptedModel([
      { toolUses: [{ name: 'write_todos', input: { todos: [{ content: 'say hi', status: 'in_progress' }] } }] },
      { toolUses: [{ name: 'write_todos', input: { todos: [{ content: 'say hi', status: 'completed' }] } }] },
      { text: 'hi' },
    ]);
    const store = memoryStore();
    const taskId = await queuedTask(store);

    const record = await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: noSandbox, journal: new MemoryJournal() });

    expect(record).toMatchObject({ status: 'succeeded', result: { text: 'hi' }, steps: 3, plan: [{ content: 'say hi', status: 'completed' }] });
    const types = (await store.listEvents(taskId)).map((e) => e.type);
    expect(types.filter((t) => t === 'plan.updated')).toHaveLength(2);
    expect(types[0]).toBe('task.started');
    expect(types.at(-1)).toBe('task.succeeded');
  });

  it('runs the tool calls of one turn concurrently: all start before any ends', async () => {
    const log: { name: string; at: number; edge: 'start' | 'end' }[] = [];
    server = await startScriptedModel([
      { toolUses: ['a', 'b', 'c'].map((label) => ({ name: 'sleepy', input: { label } })) },
      { text: 'done' },
    ]);
    const store = memoryStore();
    const taskId = await queuedTask(store);

    await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: noSandbox, journal: new MemoryJournal(), tools: [sleepyTool(log)] });

    const starts = log.filter((l) => l.edge === 'start').map((l) => l.at);
    const ends = log.filter((l) => l.edge === 'end').map((l) => l.at);
    expect(starts).toHaveLength(3);
    expect(Math.max(...starts)).toBeLessThan(Math.min(...ends));
    expect([...lastToolResults(server.requests[1]!).values()].map((r) => r.text).sort()).toEqual(['slept a', 'slept b', 'slept c']);
  });

  it('bounds concurrency', async () => {
    const log: { name: string; at: number; edge: 'start' | 'end' }[] = [];
    server = await startScriptedModel([{ toolUses: ['a', 'b', 'c'].map((label) => ({ name: 'sleepy', input: { label } })) }, { text: 'done' }]);
    const store = memoryStore();
    const taskId = await queuedTask(store);
    await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: noSandbox, journal: new MemoryJournal(), tools: [sleepyTool(log, 60)], limits: { toolConcurrency: 1 } });
    const edges = log.map((l) => l.edge).join(',');
    expect(edges).toBe('start,end,start,end,start,end');
  });

  it('turns a throwing tool into an error result and finishes the task', async () => {
    server = await startScriptedModel([{ toolUses: [{ name: 'explode', input: {} }, { name: 'no_such_tool', input: {} }] }, { text: 'recovered' }]);
    const store = memoryStore();
    const taskId = await queuedTask(store);

    const record = await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: noSandbox, journal: new MemoryJournal(), tools: [throwingTool] });

    expect(record.status).toBe('succeeded');
    const results = [...lastToolResults(server.requests[1]!).values()];
    expect(results).toEqual([
      { text: expect.stringContaining('kaboom from the tool'), isError: true },
      { text: 'unknown tool: no_such_tool', isError: true },
    ]);
    const failed = (await store.listEvents(taskId)).filter((e) => e.type === 'tool.result' && e.data.ok === false);
    expect(failed).toHaveLength(2);
  });

  it('rejects invalid tool input with an error result the model can read', async () => {
    server = await startScriptedModel([{ toolUses: [{ name: 'write_todos', input: { todos: 'nope' } }] }, { text: 'ok' }]);
    const store = memoryStore();
    const taskId = await queuedTask(store);
    await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: noSandbox, journal: new MemoryJournal() });
    const [result] = [...lastToolResults(server.requests[1]!).values()];
    expect(result).toMatchObject({ isError: true, text: expect.stringContaining('invalid input for write_todos') });
  });

  it('stops a model that never stops with budget_exceeded', async () => {
    server = await startScriptedModel(() => ({ toolUses: [{ name: 'write_todos', input: { todos: [] } }] }));
    const store = memoryStore();
    const taskId = await queuedTask(store, 'loop forever', { maxSteps: 4 });

    const record = await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: noSandbox, journal: new MemoryJournal() });

    expect(record.status).toBe('failed');
    expect(record.error?.code).toBe('budget_exceeded');
    expect(server.requests).toHaveLength(4);
    expect((await store.listEvents(taskId)).at(-1)!.type).toBe('task.failed');
  });

  it('stops at the cost budget', async () => {
    server = await startScriptedModel(() => ({ toolUses: [{ name: 'write_todos', input: { todos: [] } }], outputTokens: 100_000 }));
    const store = memoryStore();
    const taskId = await queuedTask(store, 'expensive', { maxCostUsd: 2 });
    const record = await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: noSandbox, journal: new MemoryJournal() });
    expect(record.error).toMatchObject({ code: 'budget_exceeded', message: expect.stringContaining('cost') });
    expect(server.requests.length).toBe(2);
  });

  it('retries a 529 and records a task.retrying event', async () => {
    server = await startScriptedModel([{ error: { status: 529, retryAfterSeconds: 0 } }, { text: 'fine' }]);
    const store = memoryStore();
    const taskId = await queuedTask(store);
    const record = await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: noSandbox, journal: new MemoryJournal() });
    expect(record.status).toBe('succeeded');
    const retry = (await store.listEvents(taskId)).find((e) => e.type === 'task.retrying');
    expect(retry?.data).toMatchObject({ status: 529, attempt: 1 });
  });

  it('cancels through an AbortSignal', async () => {
    server = await startScriptedModel(() => ({ toolUses: [{ name: 'sleepy', input: { label: 'x' } }] }));
    const store = memoryStore();
    const taskId = await queuedTask(store);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 250);
    const record = await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: noSandbox, journal: new MemoryJournal(), tools: [sleepyTool([], 100)], signal: controller.signal });
    expect(record.status).toBe('cancelled');
    expect((await store.listEvents(taskId)).at(-1)!.type).toBe('task.cancelled');
  });

  it('runs a sub-agent with its own context through the task tool', async () => {
    server = await startScriptedModel((req) => {
      const first = firstUserText(req);
      if (first === 'count the files') return req.body.messages.length === 1 ? { toolUses: [{ name: 'sleepy', input: { label: 'sub' } }] } : { text: 'three files' };
      return req.body.messages.length === 1 ? { toolUses: [{ name: 'task', input: { description: 'count', prompt: 'count the files' } }] } : { text: 'the sub-agent said three' };
    });
    const store = memoryStore();
    const taskId = await queuedTask(store, 'main task');

    const record = await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: noSandbox, journal: new MemoryJournal(), tools: [sleepyTool([], 1)] });

    expect(record.result?.text).toBe('the sub-agent said three');
    const subRequests = server.requests.filter((r) => firstUserText(r) === 'count the files');
    expect(subRequests).toHaveLength(2);
    expect(subRequests[0]!.body.tools.map((t: { name: string }) => t.name)).not.toContain('task');
    const [toMain] = [...lastToolResults(server.requests.at(-1)!).values()];
    expect(toMain!.text).toBe('three files');
    const types = (await store.listEvents(taskId)).map((e) => e.type);
    expect(types).toContain('subagent.started');
    expect(types).toContain('subagent.finished');
  });

  it('does not re-run finished steps when replayed with the same journal', async () => {
    const log: { name: string; at: number; edge: 'start' | 'end' }[] = [];
    // A retryable failure (a 500 the client does not retry here): a 400 is not retryable, so the loop would fail the task.
    server = await startScriptedModel([{ toolUses: [{ name: 'sleepy', input: { label: 'once' } }] }, { error: { status: 500, message: 'crash here' } }, { text: 'done' }]);
    const store = memoryStore();
    const taskId = await queuedTask(store);
    const journal = new MemoryJournal();
    const model = await modelFor(server, { maxRetries: 0 });
    await expect(
      runTask({ taskId, store, model, sandboxProvider: noSandbox, journal, tools: [sleepyTool(log, 1)], rethrowTransient: true }),
    ).rejects.toMatchObject({ code: 'model_error' });

    const record = await runTask({ taskId, store, model, sandboxProvider: noSandbox, journal, tools: [sleepyTool(log, 1)] });

    expect(record.status).toBe('succeeded');
    expect(log.filter((l) => l.edge === 'start')).toHaveLength(1);
    expect(server.requests).toHaveLength(3);
    const types = (await store.listEvents(taskId)).map((e) => e.type);
    expect(types.filter((t) => t === 'task.started')).toHaveLength(1);
    expect(types.filter((t) => t === 'tool.called')).toHaveLength(1);
  });

  it('truncates a large tool input in the tool.called event, and the tool still gets all of it', async () => {
    let received = 0;
    const echo = defineTool({ name: 'echo', description: 'measures', input: z.object({ text: z.string() }), run: async ({ text }) => ((received = text.length), 'ok') });
    server = await startScriptedModel([{ toolUses: [{ name: 'echo', input: { text: 'y'.repeat(100_000) } }] }, { text: 'done' }]);
    const store = memoryStore();
    const taskId = await queuedTask(store);

    await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: noSandbox, journal: new MemoryJournal(), tools: [echo] });

    const called = (await store.listEvents(taskId)).find((e) => e.type === 'tool.called')!;
    expect(received).toBe(100_000);
    expect(called.data.input).toMatchObject({ truncated: true, characters: 100_011 });
    expect(JSON.stringify(called.data).length).toBeLessThan(20_000);
  });

  it('denies a call that needs approval when the runtime cannot ask', async () => {
    server = await startScriptedModel([{ toolUses: [{ name: 'explode', input: {} }] }, { text: 'ok' }]);
    const store = memoryStore();
    const taskId = await queuedTask(store);
    await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: noSandbox, journal: new MemoryJournal(), tools: [throwingTool], approvalPolicy: (t) => (t.name === 'explode' ? 'destructive' : undefined) });
    const [r] = [...lastToolResults(server.requests[1]!).values()];
    expect(r).toMatchObject({ isError: true, text: expect.stringContaining('needs a person') });
  });

  it('elides old tool results when the conversation grows past the limit, with a context.compacted event', async () => {
    const big = defineTool({ name: 'big', description: 'returns a lot', input: z.object({ n: z.number() }), run: async ({ n }) => `${n}:`.padEnd(4000, 'x') });
    server = await startScriptedModel((req) => {
      const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
      return turn <= 8 ? { toolUses: [{ name: 'big', input: { n: turn } }] } : { text: 'done' };
    });
    const store = memoryStore();
    const taskId = await queuedTask(store);

    const record = await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: noSandbox, journal: new MemoryJournal(), tools: [big], limits: { compactAtTokens: 4000 } });

    expect(record.status).toBe('succeeded');
    const last = server.requests.at(-1)!.body.messages as { role: string; content: any }[];
    const results = last.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).filter((b: any) => b.type === 'tool_result');
    expect(results).toHaveLength(8);
    const elided = results.filter((b: any) => JSON.stringify(b.content).includes('elided to save context'));
    expect(elided.length).toBeGreaterThanOrEqual(4);
    // The latest results are kept whole.
    expect(JSON.stringify(results.at(-1).content)).toContain('8:xxxx');
    const compacted = (await store.listEvents(taskId)).filter((e) => e.type === 'context.compacted');
    expect(compacted.length).toBeGreaterThan(0);
    expect(compacted[0]!.data.estimatedTokensAfter).toBeLessThan(compacted[0]!.data.estimatedTokensBefore as number);
  });
});

