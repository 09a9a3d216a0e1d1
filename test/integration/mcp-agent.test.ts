import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryJournal, runTask } from '../../lib/agent/index.js';
import { McpHub } from '../../lib/mcp/index.js';
import { lastToolResults, startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';
import { memoryStore, modelFor, noSandbox, queuedTask } from '../helpers/factories.js';
import { everythingStdio, startEverythingHttp, type RunningHttpServer } from '../helpers/mcp-servers.js';

let model: ScriptedModelServer | undefined;
let hub: McpHub | undefined;
let http: RunningHttpServer | undefined;
afterEach(async () => {
  await model?.close();
  await hub?.close();
  await http?.stop();
  model = hub = http = undefined;
});

const killServerEverythingChildren = () => {
  const lines = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' }).split('\n');
  for (const l of lines.filter((x) => x.includes('server-everything'))) process.kill(Number(l.trim().split(/\s+/)[0]), 'SIGKILL');
};

describe('the agent loop with MCP tools (scripted model)', () => {
  it.each(['stdio', 'http'] as const)('calls echo and get-sum over %s; the results arrive in the next tool_result', async (transport) => {
    if (transport === 'http') http = await startEverythingHttp();
    hub = new McpHub({ servers: { everything: transport === 'http' ? http!.spec : everythingStdio(), broken: { transport: 'stdio', command: '/no/such/server', args: [], env: {} } } });
    await hub.start();
    model = await startScriptedModel([
      { toolUses: [{ name: 'mcp__everything__echo', input: { message: 'ping via mcp' } }, { name: 'mcp__everything__get-sum', input: { a: 20, b: 22 } }] },
      { text: 'done' },
    ]);
    const store = memoryStore();
    const taskId = await queuedTask(store);

    const record = await runTask({ taskId, store, model: await modelFor(model), sandboxProvider: noSandbox, journal: new MemoryJournal(), tools: hub.tools() });

    expect(record.status).toBe('succeeded');
    const toolNames = (model.requests[0]!.body.tools as { name: string }[]).map((t) => t.name);
    expect(toolNames).toEqual(expect.arrayContaining(['mcp__everything__echo', 'mcp__everything__get-sum']));
    const results = [...lastToolResults(model.requests[1]!).values()];
    expect(results[0]).toMatchObject({ isError: false, text: expect.stringContaining('ping via mcp') });
    expect(results[1]).toMatchObject({ isError: false, text: expect.stringContaining('42') });
  }, 20_000);

  it('a server killed mid-task is reconnected and the task goes on', async () => {
    hub = new McpHub({ servers: { everything: everythingStdio() } });
    await hub.start();
    model = await startScriptedModel((req) => {
      if (req.index === 0) return { toolUses: [{ name: 'mcp__everything__echo', input: { message: 'before' } }] };
      if (req.index === 1) {
        killServerEverythingChildren();
        return { toolUses: [{ name: 'mcp__everything__echo', input: { message: 'after the crash' } }] };
      }
      return { text: 'finished' };
    });
    const store = memoryStore();
    const taskId = await queuedTask(store);

    const record = await runTask({ taskId, store, model: await modelFor(model), sandboxProvider: noSandbox, journal: new MemoryJournal(), tools: hub.tools() });

    expect(record.status).toBe('succeeded');
    expect([...lastToolResults(model.requests[2]!).values()][0]).toMatchObject({ isError: false, text: expect.stringContaining('after the crash') });
  }, 20_000);
});
