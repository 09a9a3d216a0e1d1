/**
 * Lifecycle of E2B sandboxes, on a double of E2B's control plane (its cloud cannot be reached here): kill on
 * success, failure and cancel; reconnect after a replay instead of a second create; timeout extension under
 * the plan cap; pause while waiting; E2B errors mapped to tool errors; backoff on rate limits.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthenticationError, RateLimitError, SandboxNotFoundError } from 'e2b';
import { MemoryJournal, runTask } from '../../lib/agent/index.js';
import { loadConfig } from '../../lib/config/index.js';
import { createSandboxProvider } from '../../lib/sandbox/index.js';
import { createE2BSandboxProvider, type E2BProviderOptions, type E2BSandboxProvider } from '../../lib/sandbox/e2b/index.js';
import { builtinTools, executeSafely, type ToolContext } from '../../lib/tools/index.js';
import { FakeE2B } from '../helpers/fake-e2b.js';
import { until } from '../helpers/wait.js';
import { memoryStore, modelFor, queuedTask } from '../helpers/factories.js';
import { lastToolResults, startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';

const E2B_KEY = 'e2b_test0123456789abcdef0123';
let fake: FakeE2B;
let server: ScriptedModelServer | undefined;

beforeEach(async () => {
  fake = await FakeE2B.start();
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await fake.cleanup();
});

function provider(options: E2BProviderOptions = {}, sleeps: number[] = []): E2BSandboxProvider {
  return createE2BSandboxProvider(loadConfig({ E2B_API_KEY: E2B_KEY }), {
    sdk: fake,
    options: {
      workdir: fake.workdir,
      keepAlive: { intervalSeconds: 0 },
      backoff: { sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 },
      ...options,
    },
  });
}

const runCommand = builtinTools().find((t) => t.name === 'run_command')!;
const toolContext = (sandbox: ToolContext['sandbox']): ToolContext => ({
  taskId: 'task-1',
  sandbox,
  signal: new AbortController().signal,
  emit: async () => {},
});

describe('E2B provider configuration', () => {
  it('refuses to start without E2B_API_KEY, in one line naming it', async () => {
    const config = loadConfig({ DEEP_AGENT_SANDBOX: 'e2b' });

    const direct = (() => {
      try {
        createE2BSandboxProvider(config);
      } catch (e) {
        return e;
      }
    })();
    const viaFactory = await createSandboxProvider(config).catch((e: unknown) => e);

    for (const e of [direct, viaFactory]) {
      expect(e).toMatchObject({ code: 'missing_config', errorType: 'MissingConfigError' });
      expect((e as Error).message).toContain('E2B_API_KEY');
      expect((e as Error).message).not.toContain('\n');
    }
  });

  it('is what createSandboxProvider returns for DEEP_AGENT_SANDBOX=e2b with a key', async () => {
    const p = await createSandboxProvider(loadConfig({ E2B_API_KEY: E2B_KEY }));
    expect(p.name).toBe('e2b');
  });

  it('creates with template, timeout, env and metadata { taskId, accountId }, and prepares the workspace', async () => {
    const p = provider({ template: 'my-template', timeoutSeconds: 900 });

    const sb = await p.create({ taskId: 'task-9', env: { A: '1' }, metadata: { accountId: 'acct-1' } });

    expect(fake.callsOf('create')[0]!.args).toEqual({
      template: 'my-template',
      timeoutMs: 900_000,
      envs: { A: '1' },
      metadata: { accountId: 'acct-1', taskId: 'task-9' },
      allowInternetAccess: false,
      apiKeyGiven: true,
    });
    expect(fake.callsOf('makeDir')[0]!.args).toEqual({ path: fake.workdir });
    await sb.close();
  });
});

describe('E2B sandbox lifecycle: kill in finally', () => {
  it('kills the sandbox on success, on failure and on cancel, once each even when closed twice', async () => {
    const p = provider();
    const use = async (work: (sb: Awaited<ReturnType<E2BSandboxProvider['create']>>) => Promise<unknown>) => {
      const sb = await p.create({ taskId: 't' });
      try {
        await work(sb);
      } catch {
        // the agent loop records the failure; what matters here is the finally
      } finally {
        await sb.close();
        await sb.close();
      }
      return sb.id;
    };
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);

    const ok = await use((sb) => sb.run('true'));
    const failed = await use(async () => {
      throw new Error('the task failed');
    });
    const cancelled = await use((sb) => sb.run('sleep 30', { signal: controller.signal }));

    for (const id of [ok, failed, cancelled]) {
      expect(fake.sandboxes.get(id)!.state).toBe('killed');
      expect(fake.callsOf('kill').filter((c) => c.sandboxId === id)).toHaveLength(1);
    }
  });

  it('closes the sandbox at the end of a real agent run, succeeded or cancelled', async () => {
    server = await startScriptedModel([
      { toolUses: [{ name: 'write_file', input: { path: 'hello.txt', content: 'hi' } }] },
      { toolUses: [{ name: 'run_command', input: { command: 'cat hello.txt' } }] },
      { text: 'done' },
    ]);
    const store = memoryStore();
    const taskId = await queuedTask(store, 'write and read a file');

    const record = await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: provider(), journal: new MemoryJournal() });

    expect(record.status).toBe('succeeded');
    expect(lastToolResults(server.requests[2]!).values().next().value).toMatchObject({ isError: false, text: expect.stringContaining('hi') });
    expect(fake.only().state).toBe('killed');
    expect(fake.only().metadata).toMatchObject({ taskId });
  });

  it('kills the sandbox when an agent run is cancelled mid-command', async () => {
    server = await startScriptedModel([{ toolUses: [{ name: 'run_command', input: { command: 'sleep 30' } }] }, { text: 'never' }]);
    const store = memoryStore();
    const taskId = await queuedTask(store);
    const controller = new AbortController();
    const watcher = setInterval(() => {
      if (fake.commands.some((c) => c.cmd.split('\n').at(-1) === 'sleep 30')) controller.abort();
    }, 20);

    const record = await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: provider(), journal: new MemoryJournal(), signal: controller.signal });
    clearInterval(watcher);

    expect(record.status).toBe('cancelled');
    expect(fake.only().state).toBe('killed');
  });
});

describe('E2B sandbox lifecycle: reconnect', () => {
  it('reconnects to the sandbox of the first run after a replay instead of creating a second one', async () => {
    // prepare: a first run created the sandbox and wrote a file, then its process died (no close)
    const p = provider();
    const first = await p.create({ taskId: 't' });
    await first.writeFile('state.txt', 'from the first run');
    const journal = new MemoryJournal();
    server = await startScriptedModel([{ toolUses: [{ name: 'read_file', input: { path: 'state.txt' } }] }, { text: 'resumed' }]);
    const store = memoryStore();
    const taskId = await queuedTask(store);
    await store.update(taskId, { sandboxIds: [first.id] }); // what the first run recorded when it created it

    // act
    const record = await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: p, journal });

    // assess
    expect(record.status).toBe('succeeded');
    expect(fake.callsOf('create')).toHaveLength(1);
    expect(fake.callsOf('connect').map((c) => c.sandboxId)).toEqual([first.id]);
    expect([...lastToolResults(server.requests[1]!).values()][0]).toMatchObject({ text: 'from the first run', isError: false });
    expect(fake.sandboxes.get(first.id)!.state).toBe('killed');
  });

  it('turns the network back off on reconnect, in case a run died mid network command', async () => {
    const p = provider();
    const sb = await p.create({ taskId: 't' });
    fake.only().allowInternetAccess = true;

    await p.connect(sb.id, { taskId: 't' });

    expect(fake.only().allowInternetAccess).toBe(false);
    await sb.close();
  });

  it('says the sandbox no longer exists when it expired', async () => {
    const p = provider();
    const sb = await p.create({ taskId: 't' });
    fake.expire(sb.id);

    const e = await p.connect(sb.id, { taskId: 't' }).catch((x: unknown) => x);

    expect(e).toMatchObject({ code: 'sandbox_error', message: `sandbox ${sb.id} no longer exists (expired?); it cannot be used for connect.` });
    await expect(sb.close()).resolves.toBeUndefined();
  });
});

describe('E2B sandbox lifecycle: timeout extension', () => {
  it('extends the sandbox timeout periodically while the task runs, and stops on close', async () => {
    const p = provider({ keepAlive: { intervalSeconds: 0.05, extendBySeconds: 600 } });
    const sb = await p.create({ taskId: 't', timeoutSeconds: 60 });

    await sb.run('sleep 0.4');
    const during = fake.callsOf('setTimeout').length;
    await sb.close();
    const atClose = fake.callsOf('setTimeout').length;

    expect(sb.lifetime.running).toBe(false);
    expect(during).toBeGreaterThanOrEqual(3);
    expect(fake.callsOf('setTimeout')[0]!.args).toEqual({ timeoutMs: 600_000 });
    expect(fake.callsOf('setTimeout').length).toBe(atClose);
  });

  it('never extends past the plan lifetime cap', async () => {
    const p = provider({ maxLifetimeSeconds: 1, keepAlive: { intervalSeconds: 0.05, extendBySeconds: 600 } });
    const sb = await p.create({ taskId: 't', timeoutSeconds: 600 });

    await until(async () => sb.lifetime.running, (running) => !running, 5000);

    expect(fake.callsOf('create')[0]!.args).toMatchObject({ timeoutMs: 1000 });
    const extensions = fake.callsOf('setTimeout').map((c) => (c.args as { timeoutMs: number }).timeoutMs);
    expect(extensions.length).toBeGreaterThan(0);
    expect(Math.max(...extensions)).toBeLessThanOrEqual(1000);
    expect(sb.lifetime.running).toBe(false);
    await sb.close();
  });

  it('refuses a lifetime cap beyond E2B Pro’s 24 hours', () => {
    expect(() => provider({ maxLifetimeSeconds: 90_000 })).toThrow(/24 h/);
  });
});

describe('E2B sandbox lifecycle: pause while waiting', () => {
  it('pauses (stopping the keep-alive), refuses work while paused, and resumes with the same files', async () => {
    const p = provider({ keepAlive: { intervalSeconds: 0.05 } });
    const sb = await p.create({ taskId: 't' });
    await sb.writeFile('keep.txt', 'kept');

    await sb.pause();
    const extensionsAtPause = fake.callsOf('setTimeout').length;

    expect(sb.lifetime.running).toBe(false);
    expect(fake.only().state).toBe('paused');
    expect(fake.callsOf('setTimeout').length).toBe(extensionsAtPause);
    await expect(sb.run('true')).rejects.toMatchObject({ code: 'sandbox_error', message: expect.stringContaining('paused') });

    await sb.resume();
    expect(fake.callsOf('resume')).toHaveLength(1);
    expect(await sb.readFile('keep.txt')).toBe('kept');
    await sb.close();
    expect(fake.only().state).toBe('killed');
  });

  it('pauses by id and resumes by reconnecting, for a runtime that only kept the id', async () => {
    const p = provider();
    const sb = await p.create({ taskId: 't' });

    expect(await p.pauseSandbox(sb.id)).toBe(true);
    const again = await p.resumeSandbox(sb.id, { taskId: 't' });

    expect(again.id).toBe(sb.id);
    expect(fake.callsOf('resume')).toHaveLength(1);
    expect((await again.run('echo back')).stdout).toBe('back\n');
    await again.close();
  });
});

describe('E2B sandbox lifecycle: the agent loop pauses while a person decides', () => {
  it('pauses the sandbox during waitForApproval and resumes it after', async () => {
    server = await startScriptedModel([
      { toolUses: [{ name: 'run_command', input: { command: 'echo one > one.txt' } }] },
      { toolUses: [{ name: 'run_command', input: { command: 'cat one.txt' } }] },
      { text: 'done' },
    ]);
    const store = memoryStore();
    const taskId = await queuedTask(store);
    const statesWhileWaiting: string[] = [];
    class ApprovingJournal extends MemoryJournal {
      async waitForApproval() {
        statesWhileWaiting.push(fake.only().state);
        return { approve: true };
      }
    }
    let asked = 0;

    const record = await runTask({
      taskId,
      store,
      model: await modelFor(server),
      sandboxProvider: provider(),
      journal: new ApprovingJournal(),
      approvalPolicy: (tool) => (tool.name === 'run_command' && ++asked === 2 ? 'second command needs a person' : undefined),
    });

    expect(record.status).toBe('succeeded');
    expect(statesWhileWaiting).toEqual(['paused']);
    expect(fake.callsOf('resume')).toHaveLength(1);
    expect([...lastToolResults(server.requests[2]!).values()][0]!.text).toContain('one');
    expect(fake.only().state).toBe('killed');
  });
});

describe('E2B errors as tool errors', () => {
  it('gives the model a clear error when the sandbox expired under a tool call', async () => {
    const p = provider();
    const sb = await p.create({ taskId: 't' });
    fake.expire(sb.id);

    const out = await executeSafely(runCommand, { command: 'ls' }, toolContext(async () => sb));

    expect(out.isError).toBe(true);
    expect(out.content[0]).toEqual({ type: 'text', text: `sandbox_error: sandbox ${sb.id} no longer exists (expired?); it cannot be used for run_command.` });
  });

  it('names E2B_API_KEY when E2B rejects the key, without leaking the key', async () => {
    const p = provider();
    fake.failNext('create', new AuthenticationError(`401: Invalid API key ${E2B_KEY}`));

    const out = await executeSafely(runCommand, { command: 'ls' }, toolContext(() => p.create({ taskId: 't' })));

    const text = (out.content[0] as { text: string }).text;
    expect(out.isError).toBe(true);
    expect(text).toMatch(/^sandbox_unavailable: E2B rejected the API key during create: check E2B_API_KEY/);
    expect(text).not.toContain(E2B_KEY);
  });

  it('maps a killed sandbox on connect to sandbox_error', async () => {
    const p = provider();
    fake.failNext('connect', new SandboxNotFoundError('sandbox gone'));
    await expect(p.connect('sbx-x', { taskId: 't' })).rejects.toMatchObject({ code: 'sandbox_error', message: expect.stringContaining('sbx-x no longer exists (expired?)') });
  });
});

describe('E2B rate limits', () => {
  it('backs off with jitter on rate limits, then creates once', async () => {
    const sleeps: number[] = [];
    const p = provider({}, sleeps);
    fake.failNext('create', new RateLimitError('429: rate limited'), new RateLimitError('429: rate limited'));

    const sb = await p.create({ taskId: 't' });

    expect(fake.callsOf('create')).toHaveLength(3);
    expect(fake.sandboxes.size).toBe(1);
    expect(sleeps).toEqual([250, 500]);
    await sb.close();
  });

  it('gives up after the configured attempts with rate_limited', async () => {
    const p = provider({ backoff: { attempts: 2, sleep: async () => {} } });
    fake.failNext('connect', new RateLimitError('429'), new RateLimitError('429'), new RateLimitError('429'));

    await expect(p.connect('sbx-1', { taskId: 't' })).rejects.toMatchObject({ code: 'rate_limited' });
    expect(fake.callsOf('connect')).toHaveLength(2);
  });
});
