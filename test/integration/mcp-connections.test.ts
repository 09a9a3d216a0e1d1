import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/index.js';
import { bearerTokenAuth, createHttpApp } from '../../lib/http/index.js';
import { openLocalMcpConnections, type LocalMcpConnections, type McpConnection } from '../../lib/mcp-connections/index.js';
import { createModelClient } from '../../lib/model/index.js';
import { startLocalService, type LocalService } from '../../lib/local/index.js';
import { BubblewrapSandboxProvider } from '../../lib/sandbox/index.js';
import type { ToolContext } from '../../lib/tools/index.js';
import { PassThrough } from 'node:stream';
import { mcpCommand } from '../../lib/cli/commands/mcp.js';
import { alive, until } from '../helpers/wait.js';
import { MemoryJournal, runTask, type ApprovalDecision, type ApprovalRequest } from '../../lib/agent/index.js';
import { destructiveApprovalPolicy } from '../../lib/mcp/index.js';
import { memoryStore, modelFor, noSandbox, queuedTask, serveApp } from '../helpers/factories.js';
import { startScriptedModel } from '../helpers/scripted-model.js';

const TOKEN = 'local-token-0123456789';
const OTHER_TOKEN = 'other-token-0123456789';
const CANARY = 'canary-secret-7f3a9c1e5b';

let home: string;
let svc: LocalService;
let connections: LocalMcpConnections;
let otherServer: ServerType;
let otherUrl: string;

const call = async (method: string, path: string, body?: unknown, token = TOKEN, base?: string) => {
  const res = await fetch(`${base ?? svc.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as Record<string, unknown> };
};
const other = (method: string, path: string, body?: unknown) => call(method, path, body, OTHER_TOKEN, otherUrl);
const list = async () => (await call('GET', '/mcp-connections')).body.connections as McpConnection[];
const ctx = { signal: new AbortController().signal } as unknown as ToolContext;
const dbBytes = () =>
  readdirSync(home)
    .filter((f) => f.startsWith('deep-agent.db'))
    .map((f) => readFileSync(join(home, f)).toString('latin1'))
    .join('');

async function openConnections() {
  return openLocalMcpConnections({ home, catalogFile: join(home, 'catalog.json'), healthIntervalMs: 0, healthTimeoutMs: 2_000 });
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mcp-conn-'));
  // A server that only starts when its credential arrives in its environment.
  writeFileSync(
    join(home, 'catalog.json'),
    JSON.stringify({
      definitions: [
        {
          id: 'needs-env',
          title: 'everything behind a token check',
          startCommand: { command: '/bin/sh', args: ['-c', 'test -n "$CANARY_TOKEN" && exec {node} {nodeModules}/@modelcontextprotocol/server-everything/dist/index.js stdio'] },
          credentialSchema: { CANARY_TOKEN: { description: 'a token', required: true } },
        },
      ],
    }),
  );
  connections = await openConnections();
  svc = await startLocalService({
    home,
    token: TOKEN,
    model: await createModelClient(loadConfig({ ANTHROPIC_API_KEY: 'unused', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' })),
    sandboxProvider: new BubblewrapSandboxProvider({ home }),
    port: 0,
    schedulerIntervalMs: 0,
    mcpConnections: { listDefinitions: (a) => connections.manager.listDefinitions(a), install: (a, b) => connections.manager.install(a, b), list: (a) => connections.manager.list(a), remove: (a, id) => connections.manager.remove(a, id) },
  });
  // A second account: the same service and manager behind another token.
  const app = createHttpApp({ service: svc.service, authenticate: bearerTokenAuth(OTHER_TOKEN, 'other'), mcpConnections: connections.manager });
  ({ server: otherServer, url: otherUrl } = await serveApp(app));
}, 20_000);

afterAll(async () => {
  await new Promise((r) => otherServer?.close(r));
  await svc?.stop(0);
  await connections?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('MCP connection manager over HTTP', () => {
  let everything: McpConnection;

  it('lists the catalog: built-ins and the file entries', async () => {
    const res = await call('GET', '/mcp-server-definitions');
    expect(res.status).toBe(200);
    const ids = (res.body.definitions as { id: string }[]).map((d) => d.id);
    expect(ids).toEqual(expect.arrayContaining(['everything', 'memory', 'filesystem', 'github', 'notion', 'needs-env']));
  });

  it('installs everything in its own sandbox: 201 running with its tools, usable as mcp__everything__*', async () => {
    const res = await call('POST', '/mcp-connections/install', { definitionId: 'everything' });
    expect(res.status).toBe(201);
    everything = res.body as unknown as McpConnection;
    expect(everything).toMatchObject({ accountId: 'local', definitionId: 'everything', status: 'running' });
    expect(everything.tools).toContain('echo');
    const pid = connections.manager.processId('local', everything.id)!;
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]).toMatch(/bwrap$/);
    const echo = connections.manager.toolsFor('local').find((t) => t.name === 'mcp__everything__echo')!;
    const out = await echo.execute({ message: 'hi there' }, ctx);
    expect(JSON.stringify(out.content)).toContain('hi there');
  });

  it('refuses a missing or unknown credential with 400 and stores nothing', async () => {
    const missing = await call('POST', '/mcp-connections/install', { definitionId: 'github' });
    expect(missing.status).toBe(400);
    expect((missing.body.error as { message: string }).message).toContain('GITHUB_PERSONAL_ACCESS_TOKEN');
    const extra = await call('POST', '/mcp-connections/install', { definitionId: 'everything', name: 'e2', credentials: { API_KEY: CANARY } });
    expect(extra.status).toBe(400);
    expect(extra.text).not.toContain(CANARY);
    expect((await list()).map((c) => c.definitionId)).toEqual(['everything']);
    expect(connections.manager['options'].credentials.list('local')).toEqual([]);
  });

  it('passes a credential only into the server environment: never in argv, responses or the database', async () => {
    const res = await call('POST', '/mcp-connections/install', { definitionId: 'needs-env', credentials: { CANARY_TOKEN: CANARY } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'running', credentialFields: ['CANARY_TOKEN'] });
    expect(res.text).not.toContain(CANARY);
    const pid = connections.manager.processId('local', res.body.id as string)!;
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(CANARY);
    expect((await call('GET', '/mcp-connections')).text).not.toContain(CANARY);
    expect(dbBytes()).not.toContain(CANARY);
    expect(connections.manager['options'].credentials.list('local').map((c: { connectionId: string }) => c.connectionId)).toEqual([res.body.id]);
  });

  it("keeps accounts apart: another account's token neither sees nor deletes a connection", async () => {
    const seen = await other('GET', '/mcp-connections');
    expect(seen.body.connections).toEqual([]);
    expect((await other('DELETE', `/mcp-connections/${everything.id}`)).status).toBe(404);
    const mine = await other('POST', '/mcp-connections/install', { definitionId: 'memory' });
    expect(mine.status).toBe(201);
    expect((await list()).map((c) => c.definitionId)).not.toContain('memory');
    expect((await other('DELETE', `/mcp-connections/${mine.body.id}`)).status).toBe(200);
  });

  it('health check marks a killed server failed, and the next round restarts it', async () => {
    const pid = connections.manager.processId('local', everything.id)!;
    expect(pid, 'the everything server runs before the test kills it').toBeGreaterThan(0);
    const state = async () => (await list()).find((c) => c.id === everything.id)!;
    process.kill(pid, 'SIGKILL');
    await until(async () => alive(pid), (up) => !up);
    // Each round is awaited: the test waits on the recorded state a round leaves, never on a clock.
    await connections.manager.checkHealth();
    expect(await state()).toMatchObject({ status: 'failed', lastError: expect.stringContaining('health check failed') });
    await connections.manager.checkHealth();
    const back = await state();
    expect(back.status).toBe('running');
    expect(back.lastError).toBeUndefined();
    expect(connections.manager.processId('local', everything.id)).not.toBe(pid);
  });

  it('closes every sandbox on stop and restarts running connections from stored credentials on the next start', async () => {
    const pids = (await list()).map((c) => connections.manager.processId('local', c.id)!);
    await connections.close();
    expect(pids.filter(alive)).toEqual([]);
    connections = await openConnections();
    const after = await list();
    expect(after.map((c) => c.status)).toEqual(['running', 'running']);
    expect(after.every((c) => connections.manager.processId('local', c.id) !== undefined)).toBe(true);
  });

  it('the CLI lists, installs (credential read from the environment) and removes connections', async () => {
    const cli = async (...args: string[]) => {
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (d: Buffer) => (out += d.toString()));
      const env = { DEEP_AGENT_HOME: home, DEEP_AGENT_API_TOKEN: TOKEN, DEEP_AGENT_API_URL: svc.url, CANARY_TOKEN: CANARY };
      const code = await mcpCommand.run(['connections', ...args], { argv: [], env, cwd: home, stdin: new PassThrough(), stdout, stderr: new PassThrough() });
      return { code, out };
    };
    const installed = await cli('install', 'needs-env', '--name', 'from-cli', '--credential', 'CANARY_TOKEN', '--json');
    expect(installed.code).toBe(0);
    expect(installed.out).not.toContain(CANARY);
    const id = (JSON.parse(installed.out) as McpConnection).id;
    expect((await cli('list')).out).toMatch(new RegExp(`${id}\\s+from-cli \\(needs-env\\): running`));
    expect((await cli('rm', id)).code).toBe(0);
    expect((await list()).map((c) => c.id)).not.toContain(id);
  });

  it('delete stops the server (process gone) and removes its credentials', async () => {
    const target = (await list()).find((c) => c.definitionId === 'needs-env')!;
    const pid = connections.manager.processId('local', target.id)!;
    expect(alive(pid)).toBe(true);
    expect((await call('DELETE', `/mcp-connections/${target.id}`)).status).toBe(200);
    expect(alive(pid)).toBe(false);
    expect(connections.manager['options'].credentials.list('local')).toEqual([]);
    expect((await list()).map((c) => c.id)).toEqual([everything.id]);
    expect((await call('DELETE', `/mcp-connections/${target.id}`)).status).toBe(404);
  });

  it('DEEP_AGENT_APPROVAL=destructive: a read-only connection tool runs unasked, a destructive one asks first', async () => {
    // prepare: the memory server marks read_graph readOnlyHint and delete_entities destructiveHint
    const res = await call('POST', '/mcp-connections/install', { definitionId: 'memory', name: 'mem' });
    expect(res.status, res.text).toBe(201);
    const model = await startScriptedModel([
      { toolUses: [{ name: 'mcp__mem__read_graph', input: {} }] },
      { toolUses: [{ name: 'mcp__mem__delete_entities', input: { entityNames: ['nobody'] } }] },
      { text: 'done' },
    ]);
    const asked: ApprovalRequest[] = [];
    const journal = Object.assign(new MemoryJournal(), {
      waitForApproval: async (_name: string, request: ApprovalRequest): Promise<ApprovalDecision> => {
        asked.push(request);
        return { approve: true };
      },
    });
    const store = memoryStore();
    const taskId = await queuedTask(store);
    try {
      // act: the approval policy that DEEP_AGENT_APPROVAL=destructive configures
      const record = await runTask({
        taskId,
        store,
        model: await modelFor(model),
        sandboxProvider: noSandbox,
        journal,
        tools: connections.manager.toolsFor('local'),
        approvalPolicy: destructiveApprovalPolicy({ scope: ['mcp__*'] }),
      });
      // assess
      expect(record.status).toBe('succeeded');
      expect(asked.map((r) => r.tool)).toEqual(['mcp__mem__delete_entities']);
      expect(asked[0]!.reason).toContain('marked destructive by its server');
      const results = (await store.listEvents(taskId)).filter((e) => e.type === 'tool.result').map((e) => [e.data.name, e.data.ok]);
      expect(results).toEqual([
        ['mcp__mem__read_graph', true],
        ['mcp__mem__delete_entities', true],
      ]);
    } finally {
      await model.close();
      await call('DELETE', `/mcp-connections/${res.body.id}`);
    }
  });

  it('memory keeps its graph in the connection workspace; delete removes the workspace and sandbox home', async () => {
    const res = await call('POST', '/mcp-connections/install', { definitionId: 'memory' });
    expect(res.status, res.text).toBe(201);
    const id = res.body.id as string;
    const tool = (name: string) => connections.manager.toolsFor('local').find((t) => t.name === `mcp__memory__${name}`)!;
    const created = await tool('create_entities').execute({ entities: [{ name: 'Ada', entityType: 'person', observations: ['wrote the first program'] }] }, ctx);
    expect(created.isError ?? false, JSON.stringify(created.content)).toBe(false);
    const read = await tool('open_nodes').execute({ names: ['Ada'] }, ctx);
    expect(JSON.stringify(read.content)).toContain('wrote the first program');
    const workspace = join(home, 'workspaces', `mcp-${id}`);
    expect(readFileSync(join(workspace, 'memory.jsonl'), 'utf8')).toContain('"name":"Ada"');
    expect(existsSync(join(home, 'sandbox-homes', `mcp-${id}`))).toBe(true);

    expect((await call('DELETE', `/mcp-connections/${id}`)).status).toBe(200);
    expect(existsSync(workspace)).toBe(false);
    expect(existsSync(join(home, 'sandbox-homes', `mcp-${id}`))).toBe(false);
  });
});
