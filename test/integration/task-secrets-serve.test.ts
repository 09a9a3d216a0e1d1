/**
 * Task-level secrets end to end on a real `deep-agent serve` subprocess: a connection installed over HTTP
 * stores the account's credential (encrypted in SQLite); a task submitted over HTTP names it in `secrets`; its
 * bubblewrap sandbox runs the scripted model's commands, which print the variable and call a local HTTPS server
 * (its CA given to serve the usual Node way, NODE_EXTRA_CA_CERTS), after a restart of serve. Inside there is only the sentinel, the
 * listed host receives the real value, a host not listed for it receives the sentinel; the value is in no
 * answer, event, record, log or database page, also after a server echoed it back. Bad bodies are 400 JSON.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMitmCA, disposeMitmCA, type MitmCA } from '@anthropic-ai/sandbox-runtime/dist/sandbox/mitm-ca.js';
import { mintLeafCert } from '@anthropic-ai/sandbox-runtime/dist/sandbox/mitm-leaf.js';
import type { TaskEvent, TaskRecord } from '../../lib/task/index.js';
import { baseEnv, runCli, startServe, type ServeProcess } from '../helpers/cli.js';
import { firstUserText, lastToolResults, startScriptedModel, type CapturedRequest, type ScriptedModelServer, type ScriptedReply } from '../helpers/scripted-model.js';
import { until } from '../helpers/wait.js';

const TOKEN = 'task-secrets-serve-token-0123456789';
// Assembled at run time, so no fixture or source file carries it; no token shape, so only the exact-value net catches it.
const REAL = ['real', 'value', randomUUID().replaceAll('-', '')].join('-');
const SENTINEL = /deep-agent-masked-api_token-[0-9a-f]{24}/g;

interface Received {
  path: string;
  authorization?: string;
}

/** The turns of the task: the variable inside and two calls, then a call whose answer echoes what arrived, then its output repeated. */
function script(port: number) {
  const network = ['localhost', `127.0.0.1:${port}`];
  const bearer = '-H "Authorization: Bearer $API_TOKEN"';
  return (req: CapturedRequest): ScriptedReply => {
    const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
    if (firstUserText(req) !== 'use the token') return { text: 'nothing to do' };
    if (turn === 1) {
      const command =
        'printenv API_TOKEN; cat /proc/self/environ | tr "\\000" "\\n" | grep ^API_TOKEN=; ' +
        `curl -sS -m 10 ${bearer} https://localhost:${port}/listed; echo; ` +
        // 127.0.0.1 is not listed for the credential: the proxy tunnels it untouched (-k: the certificate names localhost)
        `curl -k -sS -m 10 ${bearer} https://127.0.0.1:${port}/unlisted; echo`;
      return { toolUses: [{ name: 'run_command', input: { command, network, timeoutSeconds: 60 } }] };
    }
    if (turn === 2) return { toolUses: [{ name: 'run_command', input: { command: `curl -sS -m 10 ${bearer} https://localhost:${port}/echo`, network, timeoutSeconds: 60 } }] };
    return { text: `the server answered: ${[...lastToolResults(req).values()][0]?.text ?? ''}` };
  };
}

describe('task secrets on deep-agent serve (bubblewrap, egress proxy)', () => {
  let home: string;
  let ca: MitmCA;
  let https: Server;
  let port: number;
  let model: ScriptedModelServer;
  let serve: ServeProcess;
  let env: Record<string, string>;
  const received: Received[] = [];
  const answers: string[] = [];
  const stderrs: string[] = [];
  let tokenBox = '';
  let twoKeys = '';

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${serve.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    answers.push(text);
    return { status: res.status, body: JSON.parse(text || 'null') };
  };

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'task-secrets-serve-'));
    ca = createMitmCA({});
    writeFileSync(join(home, 'test-ca.pem'), ca.certPem);
    const leaf = mintLeafCert(ca, 'localhost');
    https = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
      received.push({ path: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      // A careless host that repeats the credential it got: the value then reaches the sandbox's output.
      // (Without "Bearer ", which the token-shape net would catch by itself.)
      res.end(req.url === '/echo' ? `you sent ${(req.headers.authorization ?? 'nothing').replace(/^Bearer /, '')}\n` : 'ok\n');
    });
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    port = (https.address() as AddressInfo).port;
    model = await startScriptedModel(script(port));
    // Connections whose servers never start: their credentials are stored all the same, and after a restart of
    // serve the connection manager has not launched them, so only the task's own secret can teach the redactor.
    writeFileSync(
      join(home, 'catalog.json'),
      JSON.stringify({
        definitions: [
          { id: 'token-box', title: 'holds API_TOKEN', startCommand: { command: '/bin/false' }, credentialSchema: { API_TOKEN: { description: 'a token' } } },
          { id: 'two-keys', title: 'holds two', startCommand: { command: '/bin/false' }, credentialSchema: { KEY_A: { description: 'a' }, KEY_B: { description: 'b' } } },
        ],
      }),
    );
    env = baseEnv({
      ANTHROPIC_API_KEY: 'sk-ant-test-task-secrets',
      ANTHROPIC_BASE_URL: model.url,
      DEEP_AGENT_HOME: home,
      DEEP_AGENT_API_TOKEN: TOKEN,
      DEEP_AGENT_SANDBOX: 'local',
      DEEP_AGENT_MCP_CATALOG: join(home, 'catalog.json'),
      // serve's egress proxy verifies the upstream with the host's roots and this CA, as for any Node program
      NODE_EXTRA_CA_CERTS: join(home, 'test-ca.pem'),
    });
    serve = await startServe(env);
    env.DEEP_AGENT_API_URL = serve.url;
    const a = await call('POST', '/mcp-connections/install', { definitionId: 'token-box', credentials: { API_TOKEN: REAL } });
    const b = await call('POST', '/mcp-connections/install', { definitionId: 'two-keys', credentials: { KEY_A: 'key-a-value-123', KEY_B: 'key-b-value-456' } });
    expect(a.status, JSON.stringify(a.body)).toBe(201);
    expect(b.status).toBe(201);
    tokenBox = a.body.id;
    twoKeys = b.body.id;
    // A fresh serve on the same home: the stored credentials stay, the manager's in-memory knowledge of them goes.
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    stderrs.push(serve.stderr());
    serve = await startServe(env);
    env.DEEP_AGENT_API_URL = serve.url;
  }, 60_000);

  afterAll(async () => {
    serve?.child.kill('SIGKILL');
    await serve?.exited;
    await model?.close();
    https?.close();
    if (ca) await disposeMitmCA(ca);
    rmSync(home, { recursive: true, force: true });
  });

  it('answers 400 JSON naming the problem for a bad secret, and queues nothing', async () => {
    // prepare
    const ok = { env: 'API_TOKEN', connection: tokenBox, hosts: ['localhost'] };
    const before = (await call('GET', '/tasks?limit=100')).body.tasks.length;
    // act
    const cases = await Promise.all(
      [
        [{ ...ok, connection: 'mcpc_nope' }, 'this account has no MCP connection mcpc_nope'],
        [{ ...ok, connection: twoKeys }, 'holds KEY_A, KEY_B: name one with "field"'],
        [{ ...ok, field: 'NOPE' }, 'has no credential field NOPE; it has API_TOKEN'],
        [{ ...ok, env: '1BAD' }, 'secrets.0.env: must be an environment variable name'],
        [{ ...ok, hosts: ['*'] }, 'secrets.0.hosts.0: must be a host'],
        [{ ...ok, value: REAL }, 'secrets.0'],
      ].map(async ([secret, message]) => ({ message, res: await call('POST', '/tasks', { prompt: 'never runs', secrets: [secret] }) })),
    );
    const cli = await runCli(['submit', '--secret', 'API_TOKEN=mcpc_nope=localhost', 'never runs'], env);
    const cliBad = await runCli(['submit', '--secret', 'API_TOKEN=localhost', 'never runs'], env);
    // assess
    for (const { message, res } of cases) {
      expect(res, String(message)).toMatchObject({ status: 400, body: { error: { code: 'invalid_input', message: expect.stringContaining(String(message)) } } });
    }
    expect(cli.code).toBe(1);
    expect(cli.stderr.trim().split('\n')).toEqual([expect.stringContaining('this account has no MCP connection mcpc_nope')]);
    expect(cliBad.code).not.toBe(0);
    expect(cliBad.stderr.trim().split('\n')).toEqual([expect.stringContaining('--secret takes VAR=CONNECTION[/FIELD]=HOST,HOST')]);
    expect((await call('GET', '/tasks?limit=100')).body.tasks.length).toBe(before);
  }, 30_000);

  it("runs with only the sentinel inside; the listed host gets the account's value, another host the sentinel; no record, event, log or page holds it", async () => {
    // act
    const submitted = await call('POST', '/tasks', { prompt: 'use the token', secrets: [{ env: 'API_TOKEN', connection: tokenBox, hosts: ['localhost'] }] });
    const record = (await until(() => call('GET', `/tasks/${submitted.body.taskId}`), (r) => ['succeeded', 'failed'].includes(r.body.status), 60_000, 100)).body as TaskRecord;
    const { events } = (await call('GET', `/tasks/${record.id}/events`)).body as { events: TaskEvent[] };
    // assess: the run
    expect(submitted.status).toBe(202);
    expect(record.status, JSON.stringify(record.error)).toBe('succeeded');
    // the record names the secret, never its value
    expect(record.secrets).toEqual([{ env: 'API_TOKEN', connection: tokenBox, hosts: ['localhost'] }]);
    expect(events.find((e) => e.type === 'task.started')?.data).toMatchObject({ secrets: ['API_TOKEN'] });
    // inside: env and /proc/self/environ hold the sentinel; both calls answered
    const request = model.requests.find((r) => firstUserText(r) === 'use the token' && r.body.messages.length === 3)!;
    const firstOutput = [...lastToolResults(request).values()][0]!.text;
    const sentinel = firstOutput.match(SENTINEL)?.[0];
    expect(sentinel).toBeDefined();
    expect(firstOutput).toContain(`${sentinel}\nAPI_TOKEN=${sentinel}\nok\n\nok`);
    expect(firstOutput).not.toContain(REAL);
    // on the wire: the listed host got the value, the other the sentinel
    expect(received.find((r) => r.path === '/listed')?.authorization).toBe(`Bearer ${REAL}`);
    expect(received.find((r) => r.path === '/unlisted')?.authorization).toBe(`Bearer ${sentinel}`);
    expect(received.find((r) => r.path === '/echo')?.authorization).toBe(`Bearer ${REAL}`);
    // the echoed value is redacted in the events and in the answer the model repeated
    const echoed = events.filter((e) => e.type === 'tool.result').at(-1)!;
    expect(String(echoed.data.output)).toContain('you sent [REDACTED]');
    expect(record.result?.text).toContain('you sent [REDACTED]');

    // assess: nowhere at rest or on the wire back
    const list = await call('GET', '/tasks?limit=100');
    const connections = await call('GET', '/mcp-connections');
    // the connection was never started by this serve (no restart recorded): the redaction above is the task secret's
    const box = connections.body.connections.find((c: { id: string }) => c.id === tokenBox);
    expect(box).toMatchObject({ status: 'failed', credentialFields: ['API_TOKEN'] });
    expect(box.lastError).not.toMatch(/restart/);
    expect(list.status).toBe(200);
    const dbPages = readdirSync(home).filter((f) => f.startsWith('deep-agent.db')).map((f) => readFileSync(join(home, f)).toString('latin1'));
    const logDir = join(home, 'logs');
    const logs = existsSync(logDir) ? readdirSync(logDir).map((f) => readFileSync(join(logDir, f), 'utf8')) : [];
    expect(dbPages.length).toBeGreaterThan(0);
    expect(logs.length).toBeGreaterThan(0);
    for (const [where, texts] of Object.entries({ answers, dbPages, logs, stderr: [...stderrs, serve.stderr()] })) {
      expect(texts.filter((t) => t.includes(REAL)), where).toEqual([]);
    }
  }, 90_000);
});
