/**
 * Task secrets on AWS, on the deployed path's code: connections installed through the API handler (credentials
 * sealed through the KMS stand-in, records in fauxqs's S3), tasks submitted through it (a secret checked by name
 * against the caller's own connections: 400 otherwise), and runs under LocalDurableTestRunner through
 * `createAgentHandler` + `prepareDeployedRun`, whose task sandbox is the E2B provider on the E2B double: the
 * value is opened from its envelope (KMS Decrypt under the connection's context) when the run starts, the sandbox
 * gets only a sentinel, and the value goes to E2B in the header rule for the listed host. A credential deleted
 * before the run fails the task (recorded, not retried) while the execution itself succeeds.
 *
 * Not exercised: E2B's injection of the header (E2B's cloud) and the synthesized bundles.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDurableExecution } from '@aws/durable-execution-sdk-js';
import { LocalDurableTestRunner } from '@aws/durable-execution-sdk-js-testing';
import { KMSClient } from '@aws-sdk/client-kms';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { runTask } from '../../lib/agent/index.js';
import {
  AwsMcpConnections,
  CredentialEnvelope,
  S3ConnectionStore,
  S3TaskStore,
  SqsTaskQueue,
  createAgentHandler,
  createApiHandler,
  loadS3Catalog,
  prepareDeployedRun,
  type LambdaSender,
} from '../../lib/aws/index.js';
import { E2BSandboxProvider } from '../../lib/sandbox/e2b/index.js';
import { Redactor } from '../../lib/secrets/index.js';
import type { TaskEvent } from '../../lib/task/index.js';
import { startKmsStandIn, type KmsStandIn } from '../helpers/aws-stand-ins.js';
import { apiGatewayEvent } from '../helpers/factories.js';
import { FakeE2B } from '../helpers/fake-e2b.js';
import { bucketObjects, startFauxqsHarness, type FauxqsHarness } from '../helpers/fauxqs.js';
import { firstUserText, lastToolResults, startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';

const BUCKET = 'task-secrets-bucket';
const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/66666666-2222-3333-4444-555555555555';
const E2B_KEY = ['e2b', 'test', randomUUID()].join('_');
// Assembled at run time, so no fixture or source file carries them.
const VALUE_A = ['value', 'of', 'account', 'a', randomUUID().replaceAll('-', '')].join('-');
const VALUE_B = ['value', 'of', 'account', 'b', randomUUID().replaceAll('-', '')].join('-');
const CATALOG = { definitions: [{ id: 'token-box', title: 'holds API_TOKEN', startCommand: { command: '/bin/false' }, credentialSchema: { API_TOKEN: { description: 'a token' } } }] };

describe('task secrets on AWS (fauxqs S3, KMS stand-in, E2B double)', () => {
  let aws: FauxqsHarness;
  let kms: KmsStandIn;
  let fake: FakeE2B;
  let model: ScriptedModelServer;
  let store: S3ConnectionStore;
  let envelope: CredentialEnvelope;
  let taskStore: S3TaskStore;
  let api: ReturnType<typeof createApiHandler>;
  const answers: string[] = [];
  let idA = '';
  let idB = '';

  const call = async (method: string, path: string, accountId: string, body?: unknown) => {
    const response = (await api(apiGatewayEvent(method, path, { accountId, body }) as never)) as { statusCode: number; body?: string };
    answers.push(response.body ?? '');
    return { status: response.statusCode, body: JSON.parse(response.body || 'null') };
  };

  /** One durable run of a task on the deployed agent's preparation, with the E2B double as its sandbox. */
  const runDeployed = async (taskId: string) => {
    const redactor = new Redactor();
    const runStore = new S3TaskStore({ s3: aws.s3, bucket: BUCKET, redactor });
    const handler = createAgentHandler({
      store: runStore,
      runTask,
      prepare: (record) =>
        prepareDeployedRun(record, {
          environment: { DEEP_AGENT_SANDBOX: 'e2b', ANTHROPIC_BASE_URL: model.url, DEEP_AGENT_HOME: fake.workdir },
          secrets: { ANTHROPIC_API_KEY: 'sk-ant-test-000000', E2B_API_KEY: E2B_KEY },
          redactor,
          connections: {
            store,
            envelope,
            catalog: async () => loadS3Catalog(aws.s3, BUCKET, 'config/mcp-catalog.json'),
            sandboxes: () => new E2BSandboxProvider(E2B_KEY, { sdk: fake, options: { workdir: fake.workdir, keepAlive: { intervalSeconds: 0 } } }),
            runtime: { node: process.execPath, nodeModules: '/nonexistent' },
          },
          overrides: { sandboxProvider: new E2BSandboxProvider(E2B_KEY, { sdk: fake, redactor, options: { workdir: fake.workdir, keepAlive: { intervalSeconds: 0 } } }) },
        }),
    });
    const run = await new LocalDurableTestRunner({ handlerFunction: withDurableExecution(handler) }).run({ payload: { taskId } });
    return { status: run.getStatus(), record: (await runStore.get(taskId))!, events: await runStore.listEvents(taskId, 0, 1_000) };
  };

  beforeAll(async () => {
    await LocalDurableTestRunner.setupTestEnvironment({ skipTime: true });
    aws = await startFauxqsHarness();
    aws.server.createBucket(BUCKET);
    const queueUrl = aws.server.createQueue('task-secrets-tasks').queueUrl;
    kms = await startKmsStandIn(KEY_ARN);
    envelope = new CredentialEnvelope(new KMSClient({ region: 'us-east-1', endpoint: kms.url, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }), KEY_ARN);
    await aws.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'config/mcp-catalog.json', Body: JSON.stringify(CATALOG) }));
    fake = await FakeE2B.start();
    model = await startScriptedModel((req) =>
      req.body.messages.length === 1 ? { toolUses: [{ name: 'run_command', input: { command: 'printenv API_TOKEN' } }] } : { text: `saw ${[...lastToolResults(req).values()][0]?.text ?? ''}` },
    );
    store = new S3ConnectionStore({ s3: aws.s3, bucket: BUCKET });
    taskStore = new S3TaskStore({ s3: aws.s3, bucket: BUCKET });
    const mcpConnections = new AwsMcpConnections({ store, envelope, catalog: () => loadS3Catalog(aws.s3, BUCKET, 'config/mcp-catalog.json') });
    const lambda: LambdaSender = { send: (async () => ({})) as LambdaSender['send'] };
    api = createApiHandler({ store: taskStore, queue: new SqsTaskQueue(aws.sqs, queueUrl), lambda, agentFunctionName: 'agent:live', mcpConnections, credentials: mcpConnections });
    idA = (await call('POST', '/mcp-connections/install', 'acct-a', { definitionId: 'token-box', credentials: { API_TOKEN: VALUE_A } })).body.id;
    idB = (await call('POST', '/mcp-connections/install', 'acct-b', { definitionId: 'token-box', credentials: { API_TOKEN: VALUE_B } })).body.id;
  }, 60_000);

  afterAll(async () => {
    await model?.close();
    await fake?.cleanup();
    await kms?.close();
    await aws?.stop();
    await LocalDurableTestRunner.teardownTestEnvironment();
  });

  const secretOf = (connection: string) => [{ env: 'API_TOKEN', connection, hosts: ['api.example.org'] }];

  it("checks a submission by name against the caller's own connections: another account's is unknown (400)", async () => {
    // act
    const foreign = await call('POST', '/tasks', 'acct-a', { prompt: 'p', secrets: secretOf(idB) });
    const unknown = await call('POST', '/tasks', 'acct-a', { prompt: 'p', secrets: secretOf('mcpc_nope') });
    const bad = await call('POST', '/tasks', 'acct-a', { prompt: 'p', secrets: [{ env: 'API_TOKEN', connection: idA, hosts: ['*'] }] });
    // assess
    expect(foreign).toMatchObject({ status: 400, body: { error: { code: 'invalid_input', message: expect.stringContaining(`this account has no MCP connection ${idB}`) } } });
    expect(unknown.status).toBe(400);
    expect(bad).toMatchObject({ status: 400, body: { error: { message: expect.stringContaining('secrets.0.hosts.0') } } });
    // checking names needs no Decrypt: only the two installs' GenerateDataKey reached KMS
    expect(kms.calls.map((c) => c.operation)).toEqual(['GenerateDataKey', 'GenerateDataKey']);
  });

  it("runs with the account's value opened from its envelope: a sentinel in the sandbox, the value only in the listed host's E2B rule", async () => {
    // prepare
    const submitted = await call('POST', '/tasks', 'acct-a', { prompt: 'print the token', secrets: secretOf(idA) });
    // act
    const { status, record, events } = await runDeployed(submitted.body.taskId);
    // assess
    expect(submitted.status).toBe(202);
    expect(status).toBe('SUCCEEDED');
    expect(record.status, JSON.stringify(record.error)).toBe('succeeded');
    expect(record.secrets).toEqual(secretOf(idA));
    expect(kms.calls.filter((c) => c.operation === 'Decrypt').map((c) => c.context)).toEqual([{ accountId: 'acct-a', connectionId: idA }]);
    const create = fake.callsOf('create').find((c) => (c.args as { metadata?: { taskId?: string } }).metadata?.taskId === record.id)!;
    const args = create.args as { envs: Record<string, string>; network?: { rules?: Record<string, { transform: { headers: Record<string, string> } }[]> } };
    expect(args.envs.API_TOKEN).toMatch(/^deep-agent-masked-api_token-[0-9a-f]{24}$/);
    expect(args.network?.rules).toEqual({ 'api.example.org': [{ transform: { headers: { Authorization: `Bearer ${VALUE_A}` } } }] });
    const output = [...lastToolResults(model.requests.find((r) => firstUserText(r) === 'print the token' && r.body.messages.length === 3)!).values()][0]!.text;
    expect(output).toContain(args.envs.API_TOKEN);
    expect(JSON.stringify({ record, events })).not.toContain(VALUE_A);
  }, 60_000);

  it('fails a task whose credential was deleted before the run, once, with the reason; the execution succeeds', async () => {
    // prepare
    const installed = await call('POST', '/mcp-connections/install', 'acct-a', { definitionId: 'token-box', name: 'short-lived', credentials: { API_TOKEN: VALUE_A } });
    const submitted = await call('POST', '/tasks', 'acct-a', { prompt: 'never reaches the model', secrets: secretOf(installed.body.id) });
    await call('DELETE', `/mcp-connections/${installed.body.id}`, 'acct-a');
    // act
    const { status, record, events } = await runDeployed(submitted.body.taskId);
    // assess
    expect(submitted.status).toBe(202);
    expect(status).toBe('SUCCEEDED');
    expect(record).toMatchObject({ status: 'failed', error: { code: 'invalid_input', message: expect.stringContaining(`this account has no MCP connection ${installed.body.id}`) } });
    expect(events.filter((e: TaskEvent) => e.type === 'task.failed')).toHaveLength(1);
    expect(model.requests.filter((r) => firstUserText(r) === 'never reaches the model')).toHaveLength(0);
  }, 60_000);

  it('no value is in any S3 object or API answer', async () => {
    // act
    const bodies = (await bucketObjects(aws.s3, BUCKET)).map((o) => o.body);
    // assess: records, sealed credentials, task records and events are there; no value
    expect(bodies.some((b) => b.includes('encryptedDataKey'))).toBe(true);
    expect(bodies.some((b) => b.includes('"secrets"'))).toBe(true);
    for (const value of [VALUE_A, VALUE_B]) {
      expect(bodies.filter((b) => b.includes(value))).toEqual([]);
      expect(answers.filter((b) => b.includes(value))).toEqual([]);
    }
  });
});
