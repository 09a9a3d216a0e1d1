/**
 * Sandbox limits as the model meets them: in a real agent run on bubblewrap with small limits, a command that
 * runs out of memory comes back as a tool error naming the limit, the next command works, the task goes on to
 * succeed, and `task.started` says how each limit is held on this host.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { MemoryJournal, runTask } from '../../lib/agent/index.js';
import { BubblewrapSandboxProvider } from '../../lib/sandbox/index.js';
import { memoryStore, modelFor, queuedTask } from '../helpers/factories.js';
import { lastToolResults, startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';

const home = await mkdtemp(join(tmpdir(), 'sandbox-limits-agent-'));
afterAll(() => rm(home, { recursive: true, force: true }));
let server: ScriptedModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

it('gives the model a tool error naming the memory limit, and the task goes on', async () => {
  server = await startScriptedModel([
    { toolUses: [{ name: 'run_command', input: { command: `python3 -c "b = b'x' * (192 * 1024 * 1024)"` } }] },
    { toolUses: [{ name: 'run_command', input: { command: 'echo next one works' } }] },
    { text: 'done' },
  ]);
  const store = memoryStore();
  const taskId = await queuedTask(store, 'allocate too much');
  const sandboxProvider = new BubblewrapSandboxProvider({ home, resourceLimits: { memoryMb: 64, pids: 64, diskMb: 16 } });

  const record = await runTask({ taskId, store, model: await modelFor(server), sandboxProvider, journal: new MemoryJournal() });

  expect(record.status).toBe('succeeded');
  const [oom] = [...lastToolResults(server.requests[1]!).values()];
  expect(oom).toMatchObject({ isError: true, text: expect.stringMatching(/^sandbox_limit: .*memory limit \(64 MB, DEEP_AGENT_SANDBOX_MEMORY_MB\)/) });
  const [next] = [...lastToolResults(server.requests[2]!).values()];
  expect(next).toMatchObject({ isError: false, text: expect.stringContaining('next one works') });
  const started = (await store.listEvents(taskId)).find((e) => e.type === 'task.started')!;
  expect(started.data).toMatchObject({
    sandboxLimits: { memoryMb: { value: 64, by: expect.any(String) }, pids: { value: 64 }, diskMb: { value: 16 } },
    unenforcedSandboxLimits: expect.any(Array),
  });
});
