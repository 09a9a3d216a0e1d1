/**
 * Every secret the product knows is redacted before it is written or answered: a connection credential and a
 * `.mcp.json` `${VAR}` value, echoed by MCP servers in their errors and repeated by the model, reach the model
 * as the tools returned them but never deep-agent.db (nor its WAL), logs/ or an HTTP answer.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/index.js';
import { openLocalMcpConnections, type LocalMcpConnections } from '../../lib/mcp-connections/index.js';
import { attachMcp, mcpServerRuntime, type AttachedMcp } from '../../lib/mcp/index.js';
import { startLocalService, type LocalService } from '../../lib/local/index.js';
import { BubblewrapSandboxProvider } from '../../lib/sandbox/index.js';
import { redactorFromEnv, REDACTED } from '../../lib/secrets/index.js';
import type { TaskRecord } from '../../lib/task/index.js';
import { modelFor } from '../helpers/factories.js';
import { leakyServerSource } from '../helpers/mcp-servers.js';
import { lastToolResults, startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';
import { until } from '../helpers/wait.js';
import { baseEnv, runCli, startServe } from '../helpers/cli.js';

// Assembled at run time: no credential-shaped literal in the source, and a value no other test uses.
const canary = (kind: string) => ['canary', kind, randomBytes(8).toString('hex')].join('-');
const CREDENTIAL = canary('credential');
const VAR_VALUE = canary('var');
const TOKEN = canary('api');

let home: string;
let model: ScriptedModelServer;
let mcp: AttachedMcp;
let connections: LocalMcpConnections;
let svc: LocalService;

const api = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${svc.url}${path}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } });
  return { status: res.status, text: await res.text() };
};
/** The raw bytes of every file under `dir` whose name passes `pick`. */
const bytesOf = (dir: string, pick: (name: string) => boolean) =>
  readdirSync(dir)
    .filter(pick)
    .map((f) => readFileSync(join(dir, f)).toString('latin1'))
    .join('\n');

/** A .mcp.json server and a connection definition, each echoing its secret in an error. */
function writeServerFiles(dir: string, hostNodeModules: string) {
  // A .mcp.json server whose variable's name does not look secret: only the ${VAR} rule can know its value.
  writeFileSync(
    join(dir, 'mcp.json'),
    JSON.stringify({
      mcpServers: {
        leaky: { command: process.execPath, args: ['--input-type=module', '-e', leakyServerSource(hostNodeModules)], env: { LEAKED_VALUE: '${PLAIN_SETTING}' } },
      },
    }),
  );
  // A connection definition whose credential the server echoes.
  writeFileSync(
    join(dir, 'catalog.json'),
    JSON.stringify({
      definitions: [
        {
          id: 'leaky-conn',
          title: 'echoes its credential',
          startCommand: { command: '{node}', args: ['--input-type=module', '-e', leakyServerSource('{nodeModules}')] },
          credentialSchema: { LEAKED_VALUE: { description: 'a token' } },
        },
      ],
    }),
  );
}

/** Greps the raw bytes of the database, its WAL, logs/ and the HTTP answers for the canaries. */
async function expectNoCanary(dir: string, get: (path: string) => Promise<{ text: string }>, taskId: string) {
  const written = {
    database: bytesOf(dir, (f) => f.startsWith('deep-agent.db')),
    wal: bytesOf(dir, (f) => f === 'deep-agent.db-wal'),
    logs: bytesOf(join(dir, 'logs'), () => true),
    'GET /tasks/{id}': (await get(`/tasks/${taskId}`)).text,
    'GET /tasks/{id}/events': (await get(`/tasks/${taskId}/events`)).text,
    'GET /tasks': (await get('/tasks')).text,
    'GET /mcp-connections': (await get('/mcp-connections')).text,
  };
  expect(written.wal.length, 'the WAL holds the run').toBeGreaterThan(0);
  for (const [where, bytes] of Object.entries(written)) {
    expect(bytes.includes(CREDENTIAL), `the credential in ${where}`).toBe(false);
    expect(bytes.includes(VAR_VALUE), `the \${VAR} value in ${where}`).toBe(false);
  }
  expect(written.logs).toContain(`upstream refused the token ${REDACTED}`);
  expect(written['GET /tasks/{id}/events']).toContain(`upstream refused the token ${REDACTED}`);
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'mcp-redaction-'));
  const runtime = mcpServerRuntime();
  writeServerFiles(home, runtime.hostNodeModules);
  const config = loadConfig({ DEEP_AGENT_HOME: home, DEEP_AGENT_MCP_CONFIG: join(home, 'mcp.json'), PLAIN_SETTING: VAR_VALUE, DEEP_AGENT_SANDBOX: 'local' });
  // The wiring serve does: one redactor for the stores, the hub and the connection manager.
  const redactor = redactorFromEnv(config.env);
  const sandboxProvider = new BubblewrapSandboxProvider({ home, readOnlyMounts: runtime.mounts });
  mcp = await attachMcp(config, { sandboxProvider, redactor });
  connections = await openLocalMcpConnections({ home, catalogFile: join(home, 'catalog.json'), sandboxProvider, healthIntervalMs: 0, redactor });

  model = await startScriptedModel((req) => {
    const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
    if (turn === 1) return { toolUses: [{ name: 'mcp__leaky__leak', input: {} }, { name: 'mcp__conn__leak', input: {} }] };
    // The model repeats what the tools told it, word for word.
    return { text: `The servers said: ${[...lastToolResults(req).values()].map((r) => r.text).join(' / ')}` };
  });
  svc = await startLocalService({
    home,
    token: TOKEN,
    model: await modelFor(model),
    sandboxProvider,
    port: 0,
    schedulerIntervalMs: 0,
    redactor,
    taskOptions: () => ({ ...mcp.taskOptions(), tools: [...mcp.toolsFor(), ...connections.manager.toolsFor('local')] }),
    mcpConnections: connections.manager,
  });
}, 60_000);

afterAll(async () => {
  await svc?.stop(0);
  await connections?.close();
  await mcp?.close();
  await model?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('redaction of connection credentials and ${VAR} values', () => {
  it('the model sees what the servers returned; the database, its WAL, the log and every answer show [REDACTED]', async () => {
    // prepare
    const installed = await api('/mcp-connections/install', { method: 'POST', body: JSON.stringify({ definitionId: 'leaky-conn', name: 'conn', credentials: { LEAKED_VALUE: CREDENTIAL } }) });
    expect(installed.status, installed.text).toBe(201);
    expect(mcp.status().find((s) => s.name === 'leaky')).toMatchObject({ state: 'connected' });

    // act
    const submitted = await api('/tasks', { method: 'POST', body: JSON.stringify({ prompt: 'call both leaky tools and tell me what they said' }) });
    const { taskId } = JSON.parse(submitted.text) as { taskId: string };
    const record = await until(async () => JSON.parse((await api(`/tasks/${taskId}`)).text) as TaskRecord, (r) => r.status === 'succeeded' || r.status === 'failed');
    await until(async () => existsSync(join(home, 'logs', `${taskId}.json`)), Boolean);

    // assess: the echoes really happened, and the model got them as the tools returned them
    expect(record.status).toBe('succeeded');
    const seen = [...lastToolResults(model.requests[1]!).values()].map((r) => r.text).join('\n');
    expect(seen).toContain(`upstream refused the token ${VAR_VALUE}`);
    expect(seen).toContain(`upstream refused the token ${CREDENTIAL}`);
    expect(record.result?.text).toContain(`upstream refused the token ${REDACTED}`);

    await expectNoCanary(home, api, taskId);
  }, 60_000);
});

describe('redaction through `deep-agent serve` (a subprocess wired as users run it)', () => {
  it('a credential and a ${VAR} value echoed by servers and repeated by the model are redacted in the db, logs and answers', async () => {
    // prepare
    const dir = mkdtempSync(join(tmpdir(), 'mcp-redaction-serve-'));
    writeServerFiles(dir, mcpServerRuntime().hostNodeModules);
    const serve = await startServe(
      baseEnv({
        ANTHROPIC_API_KEY: canary('model'),
        ANTHROPIC_BASE_URL: model.url,
        DEEP_AGENT_HOME: dir,
        DEEP_AGENT_API_TOKEN: TOKEN,
        DEEP_AGENT_SANDBOX: 'local',
        DEEP_AGENT_MCP_CONFIG: join(dir, 'mcp.json'),
        DEEP_AGENT_MCP_CATALOG: join(dir, 'catalog.json'),
        PLAIN_SETTING: VAR_VALUE,
      }),
    );
    const get = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`${serve.url}${path}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } });
      return { status: res.status, text: await res.text() };
    };
    try {
      const installed = await get('/mcp-connections/install', { method: 'POST', body: JSON.stringify({ definitionId: 'leaky-conn', name: 'conn', credentials: { LEAKED_VALUE: CREDENTIAL } }) });
      expect(installed.status, installed.text).toBe(201);
      const asked = model.requests.length;
      // act
      const submitted = await get('/tasks', { method: 'POST', body: JSON.stringify({ prompt: 'call both leaky tools and tell me what they said' }) });
      const { taskId } = JSON.parse(submitted.text) as { taskId: string };
      const record = await until(async () => JSON.parse((await get(`/tasks/${taskId}`)).text) as TaskRecord, (r) => r.status === 'succeeded' || r.status === 'failed', 30_000);
      await until(async () => existsSync(join(dir, 'logs', `${taskId}.json`)), Boolean);
      // assess
      expect(record.status, serve.stderr()).toBe('succeeded');
      const seen = [...lastToolResults(model.requests[asked + 1]!).values()].map((r) => r.text).join('\n');
      expect(seen).toContain(`upstream refused the token ${VAR_VALUE}`);
      expect(seen).toContain(`upstream refused the token ${CREDENTIAL}`);
      await expectNoCanary(dir, get, taskId);
      expect(serve.stderr()).not.toContain(CREDENTIAL);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('redaction through `deep-agent run` (a subprocess)', () => {
  it('a ${VAR} value a server echoed and the model repeated is redacted in the db, the log, stdout and stderr', async () => {
    // prepare
    const dir = mkdtempSync(join(tmpdir(), 'mcp-redaction-run-'));
    writeServerFiles(dir, mcpServerRuntime().hostNodeModules);
    const asked = model.requests.length;
    // act
    const result = await runCli(
      ['run', '--json', 'call both leaky tools and tell me what they said'],
      baseEnv({ ANTHROPIC_API_KEY: canary('model'), ANTHROPIC_BASE_URL: model.url, DEEP_AGENT_HOME: dir, DEEP_AGENT_MCP_CONFIG: join(dir, 'mcp.json'), PLAIN_SETTING: VAR_VALUE }),
    );
    // assess
    expect(result.code, result.stderr).toBe(0);
    expect([...lastToolResults(model.requests[asked + 1]!).values()].map((r) => r.text).join('\n')).toContain(`upstream refused the token ${VAR_VALUE}`);
    const record = JSON.parse(result.stdout) as TaskRecord;
    expect(record.result?.text).toContain(`upstream refused the token ${REDACTED}`);
    const written = { database: bytesOf(dir, (f) => f.startsWith('deep-agent.db')), logs: bytesOf(join(dir, 'logs'), () => true), stdout: result.stdout, stderr: result.stderr };
    for (const [where, bytes] of Object.entries(written)) expect(bytes.includes(VAR_VALUE), `the \${VAR} value in ${where}`).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
