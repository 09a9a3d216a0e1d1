/**
 * What `cdk deploy` ships is what runs here (issue 10 item 9): the stack is synthesized once, and the bundles
 * `cdk synth` wrote into the cloud assembly for the authorizer, API, dispatcher and agent functions are
 * imported as they are, each with the environment the synthesized template gives it. A task then runs end to
 * end on the wire:
 *
 *   API Gateway v2 event with a bearer token -> authorizer bundle -> API bundle -> SQS (fauxqs)
 *   -> dispatcher bundle -> Lambda Invoke (stand-in) -> agent bundle under LocalDurableTestRunner
 *   -> S3 record `succeeded` (fauxqs), read back through the API bundle.
 *
 * The MCP connection routes run through the API bundle too (credentials sealed by KMS's stand-in), and the
 * keeper bundle, notified by the API, decrypts them and reaches E2B's control-plane double.
 *
 * The model is the scripted Anthropic-compatible server over HTTP (ANTHROPIC_BASE_URL), Secrets Manager, KMS and
 * Lambda are stand-ins on their HTTP APIs (test/helpers/aws-stand-ins.ts). Template references (`Ref`,
 * `Fn::GetAtt`) are replaced by the local peer's name, URL or ARN; anything else in an environment value fails
 * the test, so a new kind of value cannot slip through untested.
 *
 * The assembly is written under node_modules/.cache: the authorizer takes the AWS SDK from the Lambda runtime
 * (external `@aws-sdk/*`), and there those imports resolve from the project's node_modules, as they resolve
 * from the runtime's copy on Lambda.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App } from 'aws-cdk-lib';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { LocalDurableTestRunner } from '@aws/durable-execution-sdk-js-testing';
import { DeepAgentStack, REPO_ROOT } from '../../lib/infra/index.js';
import { bucketObjects, startFauxqsHarness, type FauxqsHarness } from '../helpers/fauxqs.js';
import { startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';
import {
  startKmsStandIn,
  startLambdaStandIn,
  startSecretsManagerStandIn,
  type KmsStandIn,
  type LambdaStandIn,
  type SecretsManagerStandIn,
} from '../helpers/aws-stand-ins.js';
import { FakeE2B } from '../helpers/fake-e2b.js';
import { serveE2BControlPlane, type FakeE2BControlPlane } from '../helpers/fake-e2b-api.js';
import { TEST_API_KEY } from '../helpers/factories.js';

type Resource = { Type: string; Properties: Record<string, any>; Metadata?: Record<string, any> };
type Handler = (event: unknown, context?: unknown) => Promise<any>;

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const API_TOKEN = `test-api-token-${randomUUID()}`;
/** Environment a Lambda sandbox has that the template does not set, plus the endpoints of the local peers. */
const TEST_ONLY_KEYS = /^(AWS_|ANTHROPIC_BASE_URL$|E2B_API_URL$|POWERTOOLS_LOG_LEVEL$)/;
const E2B_KEY = 'e2b_artifact_test_0000000000';

const outdir = join(REPO_ROOT, 'node_modules', '.cache', 'deep-agent-artifacts', String(process.pid));
let resources: Record<string, Resource>;
let aws: FauxqsHarness;
let model: ScriptedModelServer;
let secrets: SecretsManagerStandIn;
let kms: KmsStandIn;
let lambda: LambdaStandIn;
let e2b: FakeE2B;
let e2bApi: FakeE2BControlPlane;
const queues = new Map<string, { queueUrl: string; queueArn: string }>();
const bundles: Record<string, { file: string; env: Record<string, string>; handler?: Handler }> = {};
const savedEnv = { ...process.env };

const secretArn = (id: string) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}`;
const functionArn = (id: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${id}`;
const keyArn = (id: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;

/** The local value standing in for a template reference. */
function local(id: string, attribute: 'Ref' | string, where: string): string {
  const r = resources[id];
  const kind = `${r?.Type}.${attribute}`;
  switch (kind) {
    case 'AWS::S3::Bucket.Ref':
      return id.toLowerCase();
    case 'AWS::SQS::Queue.Ref':
      return queues.get(id)!.queueUrl;
    case 'AWS::SQS::Queue.Arn':
      return queues.get(id)!.queueArn;
    case 'AWS::SecretsManager::Secret.Ref':
      return secretArn(id);
    case 'AWS::Lambda::Alias.Ref':
      return `${functionArn(r!.Properties.FunctionName.Ref)}:${r!.Properties.Name}`;
    case 'AWS::Lambda::Function.Ref':
      return id;
    case 'AWS::Lambda::Function.Arn':
      return functionArn(id);
    case 'AWS::Scheduler::ScheduleGroup.Ref':
      return id;
    case 'AWS::KMS::Key.Arn':
      return keyArn(id);
    case 'AWS::IAM::Role.Arn':
      return `arn:aws:iam::${ACCOUNT}:role/${id}`;
    default:
      throw new Error(`${where}: no local stand-in for ${kind} (${id})`);
  }
}

function resolveValue(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  const v = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  if (v?.Ref) return local(v.Ref, 'Ref', where);
  if (v?.['Fn::GetAtt']) return local(v['Fn::GetAtt'][0], v['Fn::GetAtt'][1], where);
  throw new Error(`${where}: cannot stand in for ${JSON.stringify(value)}`);
}

/** The function whose POWERTOOLS_SERVICE_NAME is `service`: its logical id and bundle file in the assembly. */
function functionOf(service: string): [string, Resource] {
  const found = Object.entries(resources).filter(
    ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === service,
  );
  expect(found, service).toHaveLength(1);
  return found[0]!;
}

function lambdaContext(functionName: string) {
  return {
    functionName,
    functionVersion: '1',
    invokedFunctionArn: functionArn(functionName),
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 30_000,
    done() {},
    fail() {},
    succeed() {},
  };
}

async function load(service: string): Promise<Handler> {
  const b = bundles[service]!;
  if (!b.handler) {
    Object.assign(process.env, b.env);
    b.handler = ((await import(pathToFileURL(b.file).href)) as { handler: Handler }).handler;
  }
  return b.handler;
}

/** An HTTP API (payload 2.0) request, authorized by the authorizer bundle as API Gateway would. */
async function request(method: string, path: string, body?: unknown, token = API_TOKEN): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'content-type': 'application/json', host: 'api.example.com' };
  const routeArn = `arn:aws:execute-api:${REGION}:${ACCOUNT}:api123/$default/${method}${path}`;
  const auth = await (await load('deep-agent-authorizer'))(
    { version: '2.0', type: 'REQUEST', routeArn, identitySource: [headers.authorization], routeKey: `${method} ${path}`, rawPath: path, headers },
    lambdaContext('Authorizer'),
  );
  if (!auth.isAuthorized) return { status: 401, json: { message: 'Unauthorized' } };
  const event = {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'api123',
      domainName: 'api.example.com',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: randomUUID(),
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
      authorizer: { lambda: auth.context },
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    isBase64Encoded: false,
  };
  const out = await (await load('deep-agent-api'))(event, lambdaContext('ApiHandler'));
  return { status: out.statusCode, json: out.body ? JSON.parse(out.body) : undefined };
}

/** Takes the waiting messages off a queue as the event source mapping would hand them to the dispatcher. */
async function receiveBatch(queueId: string) {
  const { queueUrl, queueArn } = queues.get(queueId)!;
  const out = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }));
  return {
    Records: (out.Messages ?? []).map((m) => ({
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body!,
      attributes: m.Attributes ?? {},
      messageAttributes: {},
      md5OfBody: m.MD5OfBody,
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn,
      awsRegion: REGION,
    })),
  };
}

beforeAll(async () => {
  // prepare: synthesize exactly what `cdk synth` builds (cdk.json's context), into the cache folder
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const context = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')).context;
  // Asset metadata (on under the CDK CLI) records where each function's bundle was written.
  const app = new App({ outdir, context: { ...context, 'aws:cdk:enable-asset-metadata': true } });
  const stack = new DeepAgentStack(app, 'DeepAgentArtifacts', { env: { account: ACCOUNT, region: REGION } });
  const assembly = app.synth();
  resources = assembly.getStackByName(stack.stackName).template.Resources;

  // the local peers, one per resource the functions reference
  await LocalDurableTestRunner.setupTestEnvironment({ skipTime: true });
  aws = await startFauxqsHarness();
  model = await startScriptedModel([]);
  const ofType = (t: string) => Object.entries(resources).filter(([, r]) => r.Type === t);
  for (const [id] of ofType('AWS::S3::Bucket')) aws.server.createBucket(id.toLowerCase());
  // dead-letter queues first, so redrive policies can name them
  const sqsQueues = ofType('AWS::SQS::Queue').sort(([, a], [, b]) => Number(!!a.Properties.RedrivePolicy) - Number(!!b.Properties.RedrivePolicy));
  for (const [id, q] of sqsQueues) {
    const redrive = q.Properties.RedrivePolicy;
    const attributes = redrive
      ? { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: queues.get(redrive.deadLetterTargetArn['Fn::GetAtt'][0])!.queueArn, maxReceiveCount: String(redrive.maxReceiveCount) }) }
      : undefined;
    const { queueArn, queueUrl } = aws.server.createQueue(id, attributes ? { attributes } : {});
    // fauxqs names queues sqs.<region>.127.0.0.1, which WHATWG URLs reject; its own endpoint with the same path works.
    queues.set(id, { queueArn, queueUrl: `${aws.endpoint}${new URL(queueUrl.replace(/^http:\/\/[^/]+/, 'http://x')).pathname}` });
  }
  const [tokensId] = ofType('AWS::SecretsManager::Secret').find(([, s]) => /Anthropic/.test(s.Properties.Description))!;
  const [apiTokensId] = ofType('AWS::SecretsManager::Secret').find(([, s]) => /bearer/.test(s.Properties.Description))!;
  secrets = await startSecretsManagerStandIn({
    [secretArn(tokensId)]: JSON.stringify({ ANTHROPIC_API_KEY: TEST_API_KEY, E2B_API_KEY: E2B_KEY }),
    [secretArn(apiTokensId)]: JSON.stringify({ tokens: { [createHash('sha256').update(API_TOKEN).digest('hex')]: 'acct-artifacts' } }),
  });

  // each function's bundle and its template environment, references replaced by the local peers
  const [connectionKeyId] = ofType('AWS::KMS::Key')[0]!;
  kms = await startKmsStandIn(keyArn(connectionKeyId));
  for (const service of ['deep-agent-authorizer', 'deep-agent-api', 'deep-agent-dispatcher', 'deep-agent-agent', 'deep-agent-sweeper', 'deep-agent-keeper']) {
    const [id, fn] = functionOf(service);
    const file = join(outdir, fn.Metadata!['aws:asset:path'], 'index.mjs');
    const env = Object.fromEntries(
      Object.entries(fn.Properties.Environment.Variables as Record<string, unknown>).map(([k, v]) => [k, resolveValue(v, `${id}.${k}`)]),
    );
    bundles[service] = { file, env };
  }
  const [agentId] = functionOf('deep-agent-agent');
  const [, alias] = ofType('AWS::Lambda::Alias').find(([, a]) => a.Properties.FunctionName.Ref === agentId)!;
  // Handlers are looked up per request, so the agent can be registered once its bundle is loaded.
  const lambdaHandlers: Record<string, never> = {};
  const eventHandlers: Record<string, (event: unknown) => Promise<unknown>> = {};
  lambda = await startLambdaStandIn(lambdaHandlers, eventHandlers);
  e2b = await FakeE2B.start();
  e2bApi = await serveE2BControlPlane(e2b);

  const peers = {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_S3: aws.s3Endpoint,
    AWS_ENDPOINT_URL_SQS: aws.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
    AWS_ENDPOINT_URL_LAMBDA: lambda.url,
    AWS_ENDPOINT_URL_KMS: kms.url,
    ANTHROPIC_BASE_URL: model.url,
    E2B_API_URL: e2bApi.url,
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };
  Object.assign(process.env, peers);
  // The agent runs when the dispatcher's Invoke reaches the stand-in, under the name the template gives it.
  lambdaHandlers[`${functionArn(agentId)}:${alias.Properties.Name}`] = (await load('deep-agent-agent')) as never;
  const sweeper = await load('deep-agent-sweeper');
  eventHandlers[bundles['deep-agent-api']!.env.SWEEPER_FUNCTION_NAME!] = (event) => sweeper(event, lambdaContext('Sweeper'));
  const keeper = await load('deep-agent-keeper');
  eventHandlers[bundles['deep-agent-api']!.env.KEEPER_FUNCTION_NAME!] = (event) => keeper(event, lambdaContext('Keeper'));
}, 120_000);

afterAll(async () => {
  await e2bApi?.close();
  await e2b?.cleanup();
  await lambda?.close();
  await kms?.close();
  await secrets?.close();
  await model?.close();
  await aws?.stop();
  await LocalDurableTestRunner.teardownTestEnvironment();
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
  rmSync(outdir, { recursive: true, force: true });
});

describe('the synthesized bundles, with the template environment', () => {
  it('exist where the template points, and give each variable one value across functions', () => {
    const seen = new Map<string, string>();
    for (const [service, b] of Object.entries(bundles)) {
      expect(existsSync(b.file), `${service} bundle`).toBe(true);
      for (const [k, v] of Object.entries(b.env)) {
        expect(k, 'a template variable the test would overwrite').not.toMatch(TEST_ONLY_KEYS);
        // Bundles share this process's environment, so a variable must not mean two things.
        if (k !== 'POWERTOOLS_SERVICE_NAME' && seen.has(k)) expect(v, k).toBe(seen.get(k));
        seen.set(k, v);
      }
    }
  });

  it('runs a task end to end: API -> SQS -> dispatcher -> durable agent -> S3 record succeeded', async () => {
    // prepare
    model.setScript([
      { toolUses: [{ name: 'write_todos', input: { todos: [{ content: 'answer the question', status: 'completed' }] } }] },
      { text: 'forty-two' },
    ]);
    const [taskQueueId] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::SQS::Queue' && r.Properties.RedrivePolicy)!;
    // act
    const denied = await request('POST', '/tasks', { prompt: 'what is the answer?' }, 'not-a-known-token');
    const submitted = await request('POST', '/tasks', { prompt: 'what is the answer?' });
    const batch = await receiveBatch(taskQueueId);
    const dispatched = await (await load('deep-agent-dispatcher'))(batch, lambdaContext('Dispatcher'));
    const taskId = submitted.json.taskId as string;
    const execution = await lambda.executions.get(taskId)!.result;
    const read = await request('GET', `/tasks/${taskId}`);
    // assess
    expect(denied.status).toBe(401);
    expect(submitted).toMatchObject({ status: 202, json: { taskId: expect.any(String), status: 'queued' } });
    expect(batch.Records).toHaveLength(1);
    expect(dispatched).toEqual({ batchItemFailures: [] });
    expect(lambda.invokes.map((i) => i.executionName)).toEqual([taskId]);
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ id: taskId, status: 'succeeded', result: { text: 'forty-two' }, plan: [{ content: 'answer the question', status: 'completed' }] });
    // the dispatcher kept the execution's ARN, so a cancel would stop exactly this run
    expect(read.json.durableExecutionArn).toBe(lambda.executions.get(taskId)!.executionArn);
    expect(model.requests).toHaveLength(2);
    expect(secrets.reads).toEqual(expect.arrayContaining([bundles['deep-agent-agent']!.env.SECRET_ARN, bundles['deep-agent-authorizer']!.env.API_TOKENS_SECRET_ARN]));
  });

  it('a throttled start goes back to the queue and starts on redelivery', async () => {
    // prepare
    model.setScript([{ text: 'done after a wait' }]);
    const [taskQueueId] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::SQS::Queue' && r.Properties.RedrivePolicy)!;
    const dispatcher = await load('deep-agent-dispatcher');
    const submitted = await request('POST', '/tasks', { prompt: 'start when there is room' });
    const taskId = submitted.json.taskId as string;
    // The SDK itself tries a throttled call 3 times (standard retry mode); all three are refused.
    lambda.throttleNext(3);
    // act: the first delivery is throttled; as the event source mapping does, the message comes back
    const first = await receiveBatch(taskQueueId);
    const refused = await dispatcher(first, lambdaContext('Dispatcher'));
    await aws.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queues.get(taskQueueId)!.queueUrl, ReceiptHandle: first.Records[0]!.receiptHandle, VisibilityTimeout: 0 }));
    const queuedMeanwhile = await request('GET', `/tasks/${taskId}`);
    const again = await receiveBatch(taskQueueId);
    const accepted = await dispatcher(again, lambdaContext('Dispatcher'));
    const execution = await lambda.executions.get(taskId)!.result;
    // assess
    expect(refused).toEqual({ batchItemFailures: [{ itemIdentifier: first.Records[0]!.messageId }] });
    expect(queuedMeanwhile.json.status).toBe('queued');
    expect(again.Records.map((r) => r.messageId)).toEqual([first.Records[0]!.messageId]);
    expect(again.Records[0]!.attributes.ApproximateReceiveCount).toBe('2');
    expect(accepted).toEqual({ batchItemFailures: [] });
    expect(lambda.invokes.filter((i) => i.executionName === taskId)).toHaveLength(1);
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect((await request('GET', `/tasks/${taskId}`)).json.status).toBe('succeeded');
  });

  it('the sweeper bundle kills, through E2B\'s control-plane API, the sandboxes of finished and unknown tasks', async () => {
    // prepare: a sandbox left behind by a finished task, one of a task this deployment never had, one live
    const finished = await request('POST', '/tasks', { prompt: 'finish and leak' });
    const finishedId = finished.json.taskId as string;
    await request('POST', `/tasks/${finishedId}/cancel`);
    const running = await request('POST', '/tasks', { prompt: 'still queued' });
    const leaked = (await e2b.Sandbox.create({ apiKey: E2B_KEY, metadata: { taskId: finishedId } })).sandboxId;
    const orphan = (await e2b.Sandbox.create({ apiKey: E2B_KEY, metadata: { taskId: 'task-of-another-time' } })).sandboxId;
    e2b.age(orphan, 3600);
    const live = (await e2b.Sandbox.create({ apiKey: E2B_KEY, metadata: { taskId: running.json.taskId } })).sandboxId;
    // act: the schedule's event
    const result = await (await load('deep-agent-sweeper'))({ source: 'schedule' }, lambdaContext('Sweeper'));
    // assess
    expect(result.killed.map((k: { sandboxId: string; reason: string }) => [k.sandboxId, k.reason]).sort()).toEqual(
      [
        [leaked, 'terminal'],
        [orphan, 'unknown'],
      ].sort(),
    );
    expect(e2b.sandboxes.get(live)!.state).toBe('running');
    expect(new Set(e2bApi.apiKeys)).toEqual(new Set([E2B_KEY]));
  });

  it('a cancel through the API stops the recorded execution by ARN, has the sweeper kill the task\'s sandbox, and the task stays cancelled', async () => {
    // prepare: a running task (its model slow to answer) and a sandbox of that task
    model.setScript([{ text: 'finished after all', delayMs: 1500 }]);
    const [taskQueueId] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::SQS::Queue' && r.Properties.RedrivePolicy)!;
    const submitted = await request('POST', '/tasks', { prompt: 'take your time' });
    const taskId = submitted.json.taskId as string;
    await (await load('deep-agent-dispatcher'))(await receiveBatch(taskQueueId), lambdaContext('Dispatcher'));
    const sandbox = (await e2b.Sandbox.create({ apiKey: E2B_KEY, metadata: { taskId } })).sandboxId;
    for (let i = 0; i < 200 && (await request('GET', `/tasks/${taskId}`)).json.status !== 'running'; i++) await new Promise((r) => setTimeout(r, 10));
    // act
    const cancelled = await request('POST', `/tasks/${taskId}/cancel`);
    await Promise.all(lambda.events.map((e) => e.result));
    await lambda.executions.get(taskId)!.result;
    const after = await request('GET', `/tasks/${taskId}`);
    // assess
    expect(cancelled).toMatchObject({ status: 200, json: { status: 'cancelled' } });
    expect(lambda.stops).toEqual([lambda.executions.get(taskId)!.executionArn]);
    expect(lambda.events.map((e) => JSON.parse(e.payload))).toEqual([{ taskId }]);
    expect(e2b.sandboxes.get(sandbox)!.state).toBe('killed');
    expect(after.json).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
    expect(after.json.result).toBeUndefined();
  });

  it('MCP connections through the bundles: the API seals with KMS, the keeper decrypts and records why E2B could not start it, a delete kills the sandbox', async () => {
    // prepare: a canary token assembled at run time; a connection sandbox the keeper will find by its metadata
    const canary = ['ghp', 'artifacts', randomUUID().replaceAll('-', '')].join('_');
    const eventsBefore = lambda.events.length;
    // act: install (the API bundle notifies the keeper bundle, which cannot create sandboxes on the control-plane double)
    const definitions = await request('GET', '/mcp-server-definitions');
    const installed = await request('POST', '/mcp-connections/install', { definitionId: 'github', credentials: { GITHUB_PERSONAL_ACCESS_TOKEN: canary } });
    const id = installed.json.id as string;
    await Promise.all(lambda.events.slice(eventsBefore).map((e) => e.result));
    const listed = await request('GET', '/mcp-connections');
    const planted = (await e2b.Sandbox.create({ apiKey: E2B_KEY, metadata: { purpose: 'mcp-connection', accountId: 'acct-artifacts', connectionId: id, taskId: `mcp-${id}` } })).sandboxId;
    const deleted = await request('DELETE', `/mcp-connections/${id}`);
    await Promise.all(lambda.events.slice(eventsBefore).map((e) => e.result));
    const bodies = (await bucketObjects(aws.s3, bundles['deep-agent-api']!.env.TASK_BUCKET!)).map((o) => o.body);
    // assess
    expect(definitions.json.definitions.map((d: { id: string }) => d.id)).toEqual(expect.arrayContaining(['github', 'notion']));
    expect(installed).toMatchObject({ status: 201, json: { status: 'pending', credentialFields: ['GITHUB_PERSONAL_ACCESS_TOKEN'] } });
    expect(kms.calls.map((c) => c.operation)).toEqual(['GenerateDataKey', 'Decrypt']);
    expect(kms.calls[1]!.context).toEqual({ accountId: 'acct-artifacts', connectionId: id });
    expect(listed.json.connections).toEqual([expect.objectContaining({ id, status: 'failed', lastError: expect.stringContaining('start failed') })]);
    expect(deleted).toMatchObject({ status: 200, json: { deleted: id } });
    expect(e2b.sandboxes.get(planted)!.state).toBe('killed');
    expect(bodies.length).toBeGreaterThan(0);
    expect(bodies.filter((b) => b.includes(canary))).toEqual([]);
    expect(JSON.stringify([installed, listed, deleted])).not.toContain(canary);
  });

  it('task secrets through the bundles: the API checks the names without decrypting, the agent opens the value once under the connection\'s context', async () => {
    // prepare: a connection holding a canary credential; the keeper's own start attempt settles first
    const canary = ['ghp', 'secrets', randomUUID().replaceAll('-', '')].join('_');
    const eventsBefore = lambda.events.length;
    const installed = await request('POST', '/mcp-connections/install', { definitionId: 'github', credentials: { GITHUB_PERSONAL_ACCESS_TOKEN: canary } });
    const id = installed.json.id as string;
    await Promise.all(lambda.events.slice(eventsBefore).map((e) => e.result));
    model.setScript([{ text: 'done' }]);
    const [taskQueueId] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::SQS::Queue' && r.Properties.RedrivePolicy)!;
    const kmsBefore = kms.calls.length;
    // act
    const unknown = await request('POST', '/tasks', { prompt: 'use it', secrets: [{ env: 'GH_TOKEN', connection: 'mcpc_nope', hosts: ['api.github.com'] }] });
    const kmsAfterRefusal = kms.calls.length;
    const submitted = await request('POST', '/tasks', { prompt: 'use it', secrets: [{ env: 'GH_TOKEN', connection: id, hosts: ['api.github.com'] }] });
    await (await load('deep-agent-dispatcher'))(await receiveBatch(taskQueueId), lambdaContext('Dispatcher'));
    const taskId = submitted.json.taskId as string;
    const execution = await lambda.executions.get(taskId)!.result;
    const read = await request('GET', `/tasks/${taskId}`);
    const bodies = (await bucketObjects(aws.s3, bundles['deep-agent-api']!.env.TASK_BUCKET!)).map((o) => o.body);
    await request('DELETE', `/mcp-connections/${id}`);
    // assess
    expect(unknown).toMatchObject({ status: 400, json: { error: { code: 'invalid_input', message: expect.stringContaining('no MCP connection mcpc_nope') } } });
    expect(kmsAfterRefusal).toBe(kmsBefore);
    expect(submitted.status).toBe(202);
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect(read.json).toMatchObject({ status: 'succeeded', secrets: [{ env: 'GH_TOKEN', connection: id, hosts: ['api.github.com'] }] });
    const decrypts = kms.calls.slice(kmsBefore).filter((c) => c.operation === 'Decrypt');
    expect(decrypts.map((c) => c.context)).toEqual([{ accountId: 'acct-artifacts', connectionId: id }]);
    expect(bodies.filter((b) => b.includes(canary))).toEqual([]);
    expect(JSON.stringify([installed, submitted, read])).not.toContain(canary);
  });
});
