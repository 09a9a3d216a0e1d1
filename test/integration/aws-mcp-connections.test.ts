/**
 * The MCP connection manager on AWS, on the wire: the API handler (API Gateway v2 events) on fauxqs's S3 and
 * SQS, credentials sealed through the KMS stand-in's JSON protocol (reached via AWS_ENDPOINT_URL_KMS, as a
 * bundle would), connection servers run through the E2B double (real local processes behind the E2B provider),
 * the keeper round, and a task on the deployed agent's preparation (prepareDeployedRun under
 * LocalDurableTestRunner) with the scripted model. Two accounts; canary credentials assembled at run time
 * are grepped across every object in the bucket, every answer and every log line.
 *
 * What does not run here: the synthesized bundles themselves (the E2B double serves no envd commands over
 * HTTP, so a bundle cannot start a server through the real `e2b` SDK), and E2B's cloud.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDurableExecution } from '@aws/durable-execution-sdk-js';
import { LocalDurableTestRunner } from '@aws/durable-execution-sdk-js-testing';
import { KMSClient } from '@aws-sdk/client-kms';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { runTask } from '../../lib/agent/index.js';
import {
  AwsMcpConnections,
  CredentialEnvelope,
  attachAccountConnections,
  S3ConnectionStore,
  S3TaskStore,
  SqsTaskQueue,
  createAgentHandler,
  createApiHandler,
  keepConnections,
  loadS3Catalog,
  prepareDeployedRun,
  sweepSandboxes,
  tenantSecrets,
  withOwnToolsFirst,
  type ConnectionKeeperDeps,
  type LambdaSender,
} from '../../lib/aws/index.js';
import { DeepAgentError } from '../../lib/errors/index.js';
import { E2BSandboxProvider } from '../../lib/sandbox/e2b/index.js';
import type { SandboxProvider } from '../../lib/sandbox/index.js';
import { Redactor } from '../../lib/secrets/index.js';
import { newTaskRecord } from '../../lib/task/index.js';
import { startKmsStandIn, type KmsStandIn } from '../helpers/aws-stand-ins.js';
import { FakeE2B } from '../helpers/fake-e2b.js';
import { bucketObjects, startFauxqsHarness, type FauxqsHarness } from '../helpers/fauxqs.js';
import { ENV_SERVER } from '../helpers/mcp-servers.js';
import { lastToolResults, startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';
import { apiGatewayEvent } from '../helpers/factories.js';

const BUCKET = 'connections-bucket';
const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const E2B_KEY = ['e2b', 'test', randomUUID()].join('_');
// Canaries assembled at run time, so no fixture or source file carries them.
const CANARY_A = ['ghp', 'tenantA', randomUUID().replaceAll('-', '')].join('_');
const CANARY_B = ['ghp', 'tenantB', randomUUID().replaceAll('-', '')].join('_');
const OPERATOR = ['ghp', 'operator', randomUUID().replaceAll('-', '')].join('_');
const CANARIES = [CANARY_A, CANARY_B, OPERATOR];

/** The operator's catalog: "github" stands for GitHub's server with a small real MCP server that reports its environment. */
const OPERATOR_CATALOG = {
  definitions: [
    {
      id: 'github',
      title: 'GitHub (stand-in)',
      startCommand: { command: '{node}', args: [ENV_SERVER] },
      credentialSchema: { GITHUB_PERSONAL_ACCESS_TOKEN: { description: 'a GitHub personal access token' } },
    },
    { id: 'online', title: 'A server that needs the network', startCommand: { command: '{node}', args: [ENV_SERVER] }, network: true },
  ],
};

const httpApiEvent = (method: string, path: string, accountId: string, body?: unknown) => apiGatewayEvent(method, path, { accountId, body });

const noTaskSandbox: SandboxProvider = {
  name: 'e2b',
  create: async () => {
    throw new DeepAgentError('sandbox_unavailable', 'this task uses only its MCP connection');
  },
};

describe('MCP connections on AWS (fauxqs S3, KMS stand-in, E2B double)', () => {
  let aws: FauxqsHarness;
  let kms: KmsStandIn;
  let fake: FakeE2B;
  let model: ScriptedModelServer;
  let store: S3ConnectionStore;
  let keeper: ConnectionKeeperDeps;
  let api: ReturnType<typeof createApiHandler>;
  let taskStore: S3TaskStore;
  const answers: string[] = [];
  const logLines: string[] = [];
  const notified: { accountId: string; connectionId: string }[] = [];
  const previousKmsEndpoint = process.env.AWS_ENDPOINT_URL_KMS;

  const call = async (method: string, path: string, accountId: string, body?: unknown) => {
    const response = (await api(httpApiEvent(method, path, accountId, body) as never)) as { statusCode: number; body?: string };
    answers.push(response.body ?? '');
    return { status: response.statusCode, body: JSON.parse(response.body || 'null') };
  };

  beforeAll(async () => {
    await LocalDurableTestRunner.setupTestEnvironment({ skipTime: true });
    aws = await startFauxqsHarness();
    aws.server.createBucket(BUCKET);
    const queueUrl = aws.server.createQueue('connections-tasks').queueUrl;
    kms = await startKmsStandIn(KEY_ARN);
    // As in a bundle: an unmodified KMS client finds the stand-in through the endpoint variable.
    process.env.AWS_ENDPOINT_URL_KMS = kms.url;
    const kmsClient = new KMSClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'config/mcp-catalog.json', Body: JSON.stringify(OPERATOR_CATALOG) }));
    fake = await FakeE2B.start();
    model = await startScriptedModel([]);
    store = new S3ConnectionStore({ s3: aws.s3, bucket: BUCKET });
    const envelope = new CredentialEnvelope(kmsClient, KEY_ARN);
    const catalog = () => loadS3Catalog(aws.s3, BUCKET, 'config/mcp-catalog.json');
    keeper = {
      store,
      envelope,
      catalog: await catalog(),
      sandboxes: new E2BSandboxProvider(E2B_KEY, { sdk: fake, options: { workdir: fake.workdir, keepAlive: { intervalSeconds: 0 } } }),
      networkSandboxes: new E2BSandboxProvider(E2B_KEY, { sdk: fake, options: { workdir: fake.workdir, keepAlive: { intervalSeconds: 0 }, network: 'always-on' } }),
      listing: { api: fake.Sandbox, apiKey: E2B_KEY },
      // The double runs commands on this host: {node} is this Node.
      runtime: { node: process.execPath, nodeModules: fileURLToPath(new URL('../../node_modules', import.meta.url)) },
      healthTimeoutMs: 20_000,
    };
    taskStore = new S3TaskStore({ s3: aws.s3, bucket: BUCKET });
    const lambda: LambdaSender = { send: (async () => ({})) as LambdaSender['send'] };
    api = createApiHandler({
      store: taskStore,
      queue: new SqsTaskQueue(aws.sqs, queueUrl),
      lambda,
      agentFunctionName: 'agent:live',
      mcpConnections: new AwsMcpConnections({ store, envelope, catalog, notifyKeeper: async (t) => void notified.push(t) }),
      onError: (e) => logLines.push(JSON.stringify({ errorName: (e as Error)?.name, errorMessage: (e as Error)?.message })),
    });
  }, 60_000);
  afterAll(async () => {
    if (previousKmsEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL_KMS;
    else process.env.AWS_ENDPOINT_URL_KMS = previousKmsEndpoint;
    await model?.close();
    await fake?.cleanup();
    await kms?.close();
    await aws?.stop();
    await LocalDurableTestRunner.teardownTestEnvironment();
  });

  let idA = '';
  let idB = '';

  it('lists the built-in definitions with the operator catalog from the bucket laid over them', async () => {
    // act
    const { status, body } = await call('GET', '/mcp-server-definitions', 'acct-a');
    // assess
    expect(status).toBe(200);
    const ids = body.definitions.map((d: { id: string }) => d.id);
    expect(ids).toEqual(expect.arrayContaining(['everything', 'memory', 'filesystem', 'github', 'notion']));
    expect(body.definitions.find((d: { id: string }) => d.id === 'github').title).toBe('GitHub (stand-in)');
  });

  it('refuses an invalid operator catalog with one line naming the object and the field', async () => {
    // prepare
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'config/bad-catalog.json', Body: JSON.stringify({ definitions: [{ id: 'Bad Id', title: 'x', startCommand: { command: 'x' } }] }) }));
    // act + assess
    await expect(loadS3Catalog(aws.s3, BUCKET, 'config/bad-catalog.json')).rejects.toThrow(/s3:\/\/connections-bucket\/config\/bad-catalog\.json: definitions\.0\.id/);
  });

  it('installs per account: pending, sealed under KMS, started by the keeper in a sandbox of its own tagged with both ids', async () => {
    // act
    const a = await call('POST', '/mcp-connections/install', 'acct-a', { definitionId: 'github', credentials: { GITHUB_PERSONAL_ACCESS_TOKEN: CANARY_A } });
    const b = await call('POST', '/mcp-connections/install', 'acct-b', { definitionId: 'github', credentials: { GITHUB_PERSONAL_ACCESS_TOKEN: CANARY_B } });
    idA = a.body.id;
    idB = b.body.id;
    const kept = [];
    for (const target of notified) kept.push(await keepConnections(keeper, target));
    const listA = await call('GET', '/mcp-connections', 'acct-a');
    const listB = await call('GET', '/mcp-connections', 'acct-b');
    // assess
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ accountId: 'acct-a', name: 'github', status: 'pending', credentialFields: ['GITHUB_PERSONAL_ACCESS_TOKEN'] });
    expect(notified).toEqual([
      { accountId: 'acct-a', connectionId: idA },
      { accountId: 'acct-b', connectionId: idB },
    ]);
    expect(kept.map((k) => k.started)).toEqual([[idA], [idB]]);
    expect(listA.body.connections).toHaveLength(1);
    expect(listA.body.connections[0]).toMatchObject({ id: idA, status: 'running', tools: ['report_env'], sandboxId: expect.any(String) });
    expect(listB.body.connections.map((c: { id: string }) => c.id)).toEqual([idB]);
    const sandboxA = fake.sandboxes.get(listA.body.connections[0].sandboxId)!;
    expect(sandboxA.metadata).toMatchObject({ purpose: 'mcp-connection', accountId: 'acct-a', connectionId: idA });
    // The API sealed (GenerateDataKey); only the keeper decrypted, each time under the connection's own context.
    expect(kms.calls.filter((c) => c.operation === 'GenerateDataKey').map((c) => c.context)).toEqual([
      { accountId: 'acct-a', connectionId: idA },
      { accountId: 'acct-b', connectionId: idB },
    ]);
    expect(kms.calls.filter((c) => c.operation === 'Decrypt')).toHaveLength(2);
  }, 60_000);

  it("a sealed blob opens only as its own connection's: moved to another account or connection it does not decrypt", async () => {
    // prepare
    const sealed = (await store.sealedCredentials('acct-a', idA))!;
    // act
    const own = await keeper.envelope.open({ accountId: 'acct-a', connectionId: idA }, sealed);
    const moved = keeper.envelope.open({ accountId: 'acct-b', connectionId: idB }, sealed);
    // assess
    expect(own).toEqual({ GITHUB_PERSONAL_ACCESS_TOKEN: CANARY_A });
    expect(sealed.ciphertext).not.toContain(CANARY_A);
    await expect(moved).rejects.toThrow();
  });

  it("answers 4xx JSON for a bad install, a taken name and another account's connection, naming no value", async () => {
    // act
    const missing = await call('POST', '/mcp-connections/install', 'acct-a', { definitionId: 'github', name: 'gh2' });
    const unknown = await call('POST', '/mcp-connections/install', 'acct-a', { definitionId: 'github', name: 'gh3', credentials: { OTHER: CANARY_A } });
    const taken = await call('POST', '/mcp-connections/install', 'acct-a', { definitionId: 'github', credentials: { GITHUB_PERSONAL_ACCESS_TOKEN: 'x-token' } });
    const foreign = await call('DELETE', `/mcp-connections/${idB}`, 'acct-a');
    // assess
    expect(missing).toMatchObject({ status: 400, body: { error: { code: 'invalid_input', message: expect.stringContaining('GITHUB_PERSONAL_ACCESS_TOKEN') } } });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).not.toContain(CANARY_A);
    expect(taken).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
    expect(foreign).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect((await call('GET', '/mcp-connections', 'acct-b')).body.connections.map((c: { id: string }) => c.id)).toEqual([idB]);
  });

  it("runs a task of account A with A's connection only: not B's, not the operator's token", async () => {
    // prepare: a task of A; the model calls the connection's tool, then repeats what it saw
    const taskId = `task-${randomUUID()}`;
    await taskStore.create(newTaskRecord({ id: taskId, prompt: 'what token does the github server have?', source: 'http', accountId: 'acct-a' }));
    const redactor = new Redactor();
    const runStore = new S3TaskStore({ s3: aws.s3, bucket: BUCKET, redactor });
    model.setScript((request) =>
      request.index === 0
        ? { toolUses: [{ name: 'mcp__github__report_env', input: {} }] }
        : { text: `The server's token is ${JSON.parse([...lastToolResults(request).values()][0]!.text).GITHUB_PERSONAL_ACCESS_TOKEN}` },
    );
    const handler = createAgentHandler({
      store: runStore,
      runTask,
      prepare: async (record) =>
        prepareDeployedRun(record, {
          environment: { DEEP_AGENT_SANDBOX: 'e2b', ANTHROPIC_BASE_URL: model.url, DEEP_AGENT_HOME: fake.workdir },
          secrets: { ANTHROPIC_API_KEY: 'sk-ant-test-000000', E2B_API_KEY: E2B_KEY, GITHUB_TOKEN: OPERATOR },
          redactor,
          connections: { store, envelope: keeper.envelope, catalog: async () => keeper.catalog, sandboxes: () => keeper.sandboxes, runtime: keeper.runtime },
          overrides: { sandboxProvider: noTaskSandbox },
        }),
    });
    // act
    const run = await new LocalDurableTestRunner({ handlerFunction: withDurableExecution(handler) }).run({ payload: { taskId } });
    const record = await runStore.get(taskId);
    // assess
    expect(run.getStatus()).toBe('SUCCEEDED');
    expect(record?.status).toBe('succeeded');
    const toolNames = (model.requests[0]!.body.tools as { name: string }[]).map((t) => t.name).filter((n) => n.startsWith('mcp__'));
    expect(toolNames).toEqual(['mcp__github__report_env']);
    // The model saw A's token (what the tool returned), never B's or the operator's.
    const seen = JSON.parse([...lastToolResults(model.requests[1]!).values()][0]!.text);
    expect(seen.GITHUB_PERSONAL_ACCESS_TOKEN).toBe(CANARY_A);
    expect(JSON.stringify(model.requests)).not.toContain(CANARY_B);
    expect(JSON.stringify(model.requests)).not.toContain(OPERATOR);
    // What the model repeated is redacted in the record.
    expect(record?.result?.text).toContain('[REDACTED]');
    expect(record?.result?.text).not.toContain(CANARY_A);
  }, 90_000);

  it('the keeper extends a live sandbox, restarts a dead one once, leaves a failed restart failed', async () => {
    // prepare
    const before = (await store.get('acct-a', idA))!.record;
    const timeoutsBefore = fake.callsOf('setTimeout').filter((c) => c.sandboxId === before.sandboxId).length;
    // act 1: a healthy round extends
    const healthy = await keepConnections(keeper);
    // act 2: A's sandbox dies (E2B ended it): restarted once in a new sandbox
    fake.expire(before.sandboxId!);
    const restarted = await keepConnections(keeper);
    const afterRestart = (await store.get('acct-a', idA))!.record;
    // act 3: B's dies and its restart cannot create a sandbox: failed, with why
    const recordB = (await store.get('acct-b', idB))!.record;
    fake.expire(recordB.sandboxId!);
    fake.failNext('create', new Error('E2B create refused'));
    const failedRound = await keepConnections(keeper);
    const failedB = (await store.get('acct-b', idB))!.record;
    const creates = fake.callsOf('create').length;
    const later = await keepConnections(keeper);
    // assess
    expect(healthy.healthy).toEqual(expect.arrayContaining([idA, idB]));
    expect(fake.callsOf('setTimeout').filter((c) => c.sandboxId === before.sandboxId).length).toBeGreaterThan(timeoutsBefore);
    expect(restarted.restarted).toEqual([idA]);
    expect(afterRestart).toMatchObject({ status: 'running', tools: ['report_env'], restartedAt: expect.any(String), lastError: expect.stringContaining('restarted after') });
    expect(afterRestart.sandboxId).not.toBe(before.sandboxId);
    expect(failedRound.failed).toEqual([idB]);
    expect(failedB).toMatchObject({ status: 'failed', lastError: expect.stringContaining('restart failed') });
    expect(failedB.sandboxId).toBeUndefined();
    expect(later.checked).toBe(1);
    expect(fake.callsOf('create').length).toBe(creates);
    expect((await call('GET', '/mcp-connections', 'acct-b')).body.connections[0]).toMatchObject({ status: 'failed', lastError: expect.any(String) });
  }, 90_000);

  it("kills the sandbox of a deleted connection; the other account's stays", async () => {
    // prepare
    const sandboxA = (await store.get('acct-a', idA))!.record.sandboxId!;
    const other = await call('POST', '/mcp-connections/install', 'acct-b', { definitionId: 'github', name: 'gh-b2', credentials: { GITHUB_PERSONAL_ACCESS_TOKEN: CANARY_B } });
    await keepConnections(keeper, { accountId: 'acct-b', connectionId: other.body.id });
    const sandboxB2 = (await store.get('acct-b', other.body.id))!.record.sandboxId!;
    // act
    const deleted = await call('DELETE', `/mcp-connections/${idA}`, 'acct-a');
    const round = await keepConnections(keeper, notified.at(-1)!);
    // assess
    expect(deleted).toMatchObject({ status: 200, body: { deleted: idA } });
    expect(round.killed).toEqual([{ sandboxId: sandboxA, connectionId: idA }]);
    expect(fake.sandboxes.get(sandboxA)!.state).toBe('killed');
    expect(fake.sandboxes.get(sandboxB2)!.state).toBe('running');
    expect((await call('GET', '/mcp-connections', 'acct-a')).body.connections).toEqual([]);
  }, 60_000);

  it("the task sandbox sweeper leaves connection sandboxes alone (their 'taskId' is no task)", async () => {
    // prepare
    const live = [...fake.sandboxes.values()].filter((s) => s.state === 'running' && s.metadata.purpose === 'mcp-connection');
    // act
    const swept = await sweepSandboxes({ sandboxes: fake.Sandbox, apiKey: E2B_KEY, store: taskStore, unknownGraceSeconds: 0 });
    // assess
    expect(live.length).toBeGreaterThan(0);
    expect(swept.killed.filter((k) => live.some((s) => s.id === k.sandboxId))).toEqual([]);
    expect(live.every((s) => s.state === 'running')).toBe(true);
  });

  it('a server that needs the network gets a sandbox whose internet stays on when a task reattaches', async () => {
    // prepare
    const installed = await call('POST', '/mcp-connections/install', 'acct-b', { definitionId: 'online' });
    await keepConnections(keeper, { accountId: 'acct-b', connectionId: installed.body.id });
    const record = (await store.get('acct-b', installed.body.id))!.record;
    // act: a task of B attaches its connections (reconnecting to each sandbox)
    const attached = await attachAccountConnections({ ...keeper, redactor: new Redactor() }, 'acct-b');
    await attached.close();
    // assess
    expect(record.status).toBe('running');
    expect(attached.attached).toEqual(expect.arrayContaining(['online']));
    expect(fake.sandboxes.get(record.sandboxId!)!.allowInternetAccess).toBe(true);
    const offline = (await store.list('acct-b')).find((c) => c.definitionId === 'github' && c.status === 'running')!;
    expect(fake.sandboxes.get(offline.sandboxId!)!.allowInternetAccess).toBe(false);
  }, 60_000);

  it('no credential appears in any S3 object, answer or log line', async () => {
    // act
    const bodies = (await bucketObjects(aws.s3, BUCKET)).map((o) => o.body);
    // assess: the bucket holds connection records, sealed credentials, task records and events
    expect(bodies.length).toBeGreaterThan(5);
    expect(bodies.some((b) => b.includes('encryptedDataKey'))).toBe(true);
    for (const canary of CANARIES) {
      expect(bodies.filter((b) => b.includes(canary))).toEqual([]);
      expect(answers.filter((b) => b.includes(canary))).toEqual([]);
      expect(logLines.filter((b) => b.includes(canary))).toEqual([]);
    }
  });
});

describe('operator tokens for tenants', () => {
  it("keeps the account's own connection tool where an allowed operator preset has the same name", () => {
    const preset = { name: 'mcp__github__search', from: 'operator' };
    const own = { name: 'mcp__github__search', from: 'account' };
    const other = { name: 'mcp__notion__search', from: 'operator' };
    expect(withOwnToolsFirst([preset, other, own], [own])).toEqual([other, own]);
  });

  it("drops the operator's GitHub and Notion tokens unless the stack allows them", () => {
    const values = { ANTHROPIC_API_KEY: 'k', E2B_API_KEY: 'e', GITHUB_TOKEN: 'g', NOTION_TOKEN: 'n' };
    expect(tenantSecrets(values, false)).toEqual({ ANTHROPIC_API_KEY: 'k', E2B_API_KEY: 'e' });
    expect(tenantSecrets(values, true)).toEqual(values);
  });
});
