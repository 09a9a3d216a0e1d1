/** What a task owns besides its sandbox (the MCP gateway's port): one step to create it, its id on the record, and every end. */
import { describe, expect, it } from 'vitest';
import { MemoryJournal, runTask, type TaskResource } from '../../lib/agent/index.js';
import { DeepAgentError } from '../../lib/errors/index.js';
import type { ContentBlock, ModelClient, ModelRequest, ModelResponse } from '../../lib/model/types.js';
import { emptyUsage, MemoryTaskStore, newTaskRecord } from '../../lib/task/index.js';
import { noSandbox } from '../helpers/factories.js';

/** A resource that logs what the loop asks of it. */
function recording(options: { failCreate?: boolean } = {}) {
  const log: string[] = [];
  const resource: TaskResource = {
    name: 'mcp-gateway',
    async create({ taskId }) {
      log.push(`create ${taskId}`);
      if (options.failCreate) throw new Error('E2B is down');
      return 'sbx-1';
    },
    async open(id) {
      log.push(`open ${id}`);
    },
    async pause() {
      log.push('pause');
    },
    async release({ parked, id }) {
      log.push(`release ${parked ? 'parked' : 'ended'}${id ? ` ${id}` : ''}`);
    },
  };
  return { log, resource };
}

function answering(fail?: Error): ModelClient & { systems: string[] } {
  return {
    provider: 'anthropic',
    model: 'scripted',
    systems: [],
    async createMessage(request: ModelRequest): Promise<ModelResponse> {
      this.systems.push(request.system ?? '');
      if (fail) throw fail;
      return { content: [{ type: 'text', text: 'done' } as ContentBlock], stopReason: 'end_turn', usage: emptyUsage(), model: 'scripted' };
    },
  };
}

async function task(store: MemoryTaskStore, extra: Parameters<MemoryTaskStore['update']>[1] = {}) {
  await store.create(newTaskRecord({ id: 't-1', prompt: 'p', source: 'cli' }));
  if (Object.keys(extra).length) await store.update('t-1', extra);
  return 't-1';
}

describe('task resources', () => {
  it('creates it once in its step after task:start, records its id, and kills it at the end', async () => {
    // prepare
    const store = new MemoryTaskStore();
    const { log, resource } = recording();
    const journal = new MemoryJournal();
    // act
    const record = await runTask({ taskId: await task(store), store, model: answering(), sandboxProvider: noSandbox, journal, resources: [resource] });
    // assess
    expect(record.status).toBe('succeeded');
    expect(log).toEqual(['create t-1', 'open sbx-1', 'release ended sbx-1']);
    expect(record.resourceSandboxIds).toEqual({ 'mcp-gateway': 'sbx-1' });
    expect(journal.executed.slice(0, 2)).toEqual(['task:start', 'mcp-gateway:create']);
  });

  it('reattaches to the one an interrupted attempt recorded instead of creating another', async () => {
    // prepare: the record names a gateway, the journal has no step for it (the attempt died before its checkpoint)
    const store = new MemoryTaskStore();
    const { log, resource } = recording();
    // act
    await runTask({ taskId: await task(store, { resourceSandboxIds: { 'mcp-gateway': 'sbx-0' } }), store, model: answering(), sandboxProvider: noSandbox, journal: new MemoryJournal(), resources: [resource] });
    // assess
    expect(log).toEqual(['open sbx-0', 'release ended sbx-0']);
  });

  it('a run the queue will retry leaves it paused for that run', async () => {
    // prepare
    const store = new MemoryTaskStore();
    const { log, resource } = recording();
    const transient = new DeepAgentError('model_error', 'model call failed (529): overloaded', undefined, { retryable: true });
    // act
    const thrown = await runTask({ taskId: await task(store), store, model: answering(transient), sandboxProvider: noSandbox, journal: new MemoryJournal(), resources: [resource], rethrowTransient: true }).catch((e: unknown) => e);
    // assess
    expect(thrown).toBe(transient);
    expect(log).toEqual(['create t-1', 'open sbx-1', 'release parked']);
  });

  it('one that cannot be created leaves the task going, with a note in the system prompt', async () => {
    // prepare
    const store = new MemoryTaskStore();
    const { log, resource } = recording({ failCreate: true });
    const model = answering();
    // act
    const record = await runTask({ taskId: await task(store), store, model, sandboxProvider: noSandbox, journal: new MemoryJournal(), resources: [resource] });
    // assess
    expect(record.status).toBe('succeeded');
    expect(log).toEqual(['create t-1']);
    expect(model.systems[0]).toContain('mcp-gateway could not start: E2B is down');
    expect(record.resourceSandboxIds).toBeUndefined();
  });
});
