/** Builders shared by tests. */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { loadConfig } from '../../lib/config/index.js';
import { createModelClient, type ModelClientOptions } from '../../lib/model/index.js';
import type { SandboxProvider } from '../../lib/sandbox/types.js';
import { MemoryTaskStore, type TaskStore } from '../../lib/task/index.js';
import { newTaskRecord, type Budget } from '../../lib/task/index.js';
import { defineTool, type Tool } from '../../lib/tools/index.js';
import type { ScriptedModelServer } from './scripted-model.js';

/** A fake key, shaped like a real one (assembled, so no credential-shaped literal sits in the source). */
export const TEST_API_KEY = ['sk', 'ant', 'test-canary-0123456789abcdef'].join('-');

/** A real model client (real SDK) pointed at the scripted server. */
export function modelFor(server: Pick<ScriptedModelServer, 'url'>, options: ModelClientOptions = {}) {
  return createModelClient(loadConfig({ ANTHROPIC_API_KEY: TEST_API_KEY, ANTHROPIC_BASE_URL: server.url }), { retryBaseDelayMs: 1, ...options });
}

/** A provider for runs whose tools never touch a sandbox; using it is a test failure. */
export const noSandbox: SandboxProvider = {
  name: 'unsafe-local',
  async create() {
    throw new Error('this test does not expect a sandbox');
  },
};

export async function queuedTask(store: TaskStore, prompt = 'do the thing', budget?: Budget) {
  const id = randomUUID();
  await store.create(newTaskRecord({ id, prompt, source: 'cli', ...(budget ? { budget } : {}) }));
  return id;
}

export const memoryStore = () => new MemoryTaskStore();

/** A tool that sleeps, recording when each call starts and ends. */
export function sleepyTool(log: { name: string; at: number; edge: 'start' | 'end' }[], ms = 150): Tool {
  return defineTool({
    name: 'sleepy',
    description: 'sleeps',
    input: z.object({ label: z.string() }),
    run: async ({ label }) => {
      log.push({ name: label, at: performance.now(), edge: 'start' });
      await new Promise((r) => setTimeout(r, ms));
      log.push({ name: label, at: performance.now(), edge: 'end' });
      return `slept ${label}`;
    },
  });
}

export const throwingTool: Tool = defineTool({
  name: 'explode',
  description: 'always throws',
  input: z.object({}),
  run: async () => {
    throw new Error('kaboom from the tool');
  },
});
