/**
 * OAuth for remote MCP connections on AWS, on the wire: the API handler (API Gateway v2 events) on fauxqs's
 * S3, the KMS stand-in's JSON protocol (via AWS_ENDPOINT_URL_KMS), the local OAuth MCP server
 * (test/helpers/oauth-mcp-server.ts), and a durable task on the deployed agent's preparation
 * (prepareDeployedRun under LocalDurableTestRunner) with the scripted model. Every token the OAuth server
 * issued is grepped across every object of the bucket.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDurableExecution } from '@aws/durable-execution-sdk-js';
import { LocalDurableTestRunner } from '@aws/durable-execution-sdk-js-testing';
import { KMSClient } from '@aws-sdk/client-kms';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { runTask } from '../../lib/agent/index.js';
import {
  attachRemoteConnections,
  AwsMcpConnections,
  awsOAuthLogins,
  createAgentHandler,
  createApiHandler,
  CredentialEnvelope,
  loadS3Catalog,
  oauthKeys,
  prepareDeployedRun,
  S3ConnectionStore,
  S3PendingLogins,
  S3TaskStore,
  SqsTaskQueue,
  type LambdaSender,
} from '../../lib/aws/index.js';
import { DeepAgentError } from '../../lib/errors/index.js';
import type { SandboxProvider } from '../../lib/sandbox/index.js';
import { Redactor } from '../../lib/secrets/index.js';
import { newTaskRecord } from '../../lib/task/index.js';
import { startKmsStandIn, type KmsStandIn } from '../helpers/aws-stand-ins.js';
import { bucketObjects, startFauxqsHarness, type FauxqsHarness } from '../helpers/fauxqs.js';
import { startOAuthMcpServer, type OAuthMcpServer } from '../helpers/oauth-mcp-server.js';
import { lastToolResults, startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';
import { apiGatewayEvent } from '../helpers/factories.js';

const BUCKET = 'oauth-bucket';
const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/22222222-3333-4444-5555-666666666666';
const HOST = 'abc.execute-api.us-east-1.amazonaws.com';

/** An HTTP API v2 event; `accountId` undefined is a route without the authorizer (the public callback). */
const httpApiEvent = (method: string, pathAndQuery: string, accountId: string | undefined, body?: unknown) =>
  apiGatewayEvent(method, pathAndQuery, { ...(accountId ? { accountId } : {}), body, host: HOST });

const noTaskSandbox: SandboxProvider = {
  name: 'e2b',
  create: async () => {
    throw new DeepAgentError('sandbox_unavailable', 'this task uses only its MCP connection');
  },
};

describe('MCP OAuth on AWS (fauxqs S3, KMS stand-in, local OAuth server)', () => {
  let aws: FauxqsHarness;
  let kms: KmsStandIn;
  let remote: OAuthMcpServer;
  let model: ScriptedModelServer;
  let store: S3ConnectionStore;
  let envelope: CredentialEnvelope;
  let api: ReturnType<typeof createApiHandler>;
  let taskStore: S3TaskStore;
  const answers: string[] = [];
  const notified: unknown[] = [];
  const previousKmsEndpoint = process.env.AWS_ENDPOINT_URL_KMS;
  let id = '';

  const call = async (method: string, path: string, accountId: string | undefined, body?: unknown) => {
    const response = (await api(httpApiEvent(method, path, accountId, body) as never)) as { statusCode: number; body?: string };
    answers.push(response.body ?? '');
    return { status: response.statusCode, body: JSON.parse(response.body || 'null') };
  };
  const objects = () => bucketObjects(aws.s3, BUCKET);
  /** What the browser does: follow the authorization URL and come back to the callback (path and query). */
  const approve = async (authorizationUrl: string) => {
    const res = await fetch(authorizationUrl, { redirect: 'manual' });
    const back = new URL(res.headers.get('location')!);
    expect(back.origin + back.pathname).toBe(`https://${HOST}/oauth/callback`);
    return back.pathname + back.search;
  };
  const login = async () => {
    const start = await call('POST', `/mcp-connections/${id}/oauth/start`, 'acct-a');
    expect(start.status).toBe(200);
    return approve(start.body.authorizationUrl);
  };
  const connections = () => ({ s3: aws.s3, bucket: BUCKET, envelope, store, redactor: new Redactor() });

  beforeAll(async () => {
    await LocalDurableTestRunner.setupTestEnvironment({ skipTime: true });
    aws = await startFauxqsHarness();
    aws.server.createBucket(BUCKET);
    const queueUrl = aws.server.createQueue('oauth-tasks').queueUrl;
    kms = await startKmsStandIn(KEY_ARN);
    process.env.AWS_ENDPOINT_URL_KMS = kms.url;
    remote = await startOAuthMcpServer();
    model = await startScriptedModel([]);
    await aws.s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'config/mcp-catalog.json', Body: JSON.stringify({ definitions: [{ id: 'remote', title: 'A remote OAuth server', url: remote.mcpUrl }] }) }),
    );
    envelope = new CredentialEnvelope(new KMSClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }), KEY_ARN);
    store = new S3ConnectionStore({ s3: aws.s3, bucket: BUCKET });
    taskStore = new S3TaskStore({ s3: aws.s3, bucket: BUCKET });
    const mcpConnections = new AwsMcpConnections({ store, envelope, catalog: () => loadS3Catalog(aws.s3, BUCKET, 'config/mcp-catalog.json'), notifyKeeper: async (t) => void notified.push(t) });
    const lambda: LambdaSender = { send: (async () => ({})) as LambdaSender['send'] };
    api = createApiHandler({
      store: taskStore,
      queue: new SqsTaskQueue(aws.sqs, queueUrl),
      lambda,
      agentFunctionName: 'agent:live',
      mcpConnections,
      mcpOAuth: awsOAuthLogins({ s3: aws.s3, bucket: BUCKET, envelope, connections: mcpConnections }),
    });
  }, 60_000);
  afterAll(async () => {
    if (previousKmsEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL_KMS;
    else process.env.AWS_ENDPOINT_URL_KMS = previousKmsEndpoint;
    await model?.close();
    await remote?.close();
    await kms?.close();
    await aws?.stop();
    await LocalDurableTestRunner.teardownTestEnvironment();
  });

  it('installs a remote definition as needs_login, with nothing for the keeper to start', async () => {
    const res = await call('POST', '/mcp-connections/install', 'acct-a', { definitionId: 'remote' });
    expect(res.status).toBe(201);
    id = res.body.id;
    expect(res.body).toMatchObject({ status: 'needs_login', lastError: `needs a login: POST /mcp-connections/${id}/oauth/start` });
    expect(notified).toEqual([]);
  });

  it("refuses another account's start with 404, and a start without the authorizer's account with 401", async () => {
    const other = await call('POST', `/mcp-connections/${id}/oauth/start`, 'acct-b');
    expect(other.status).toBe(404);
    expect(other.body.error.message).toBe(`no HTTP MCP server "${id}" to log in to`);
    expect((await call('POST', `/mcp-connections/${id}/oauth/start`, undefined)).status).toBe(401);
  });

  it('logs in through the public callback exactly once; the pending login is sealed in S3 until then', async () => {
    const callback = await login();
    const state = new URL(callback, 'https://x').searchParams.get('state')!;
    const pending = (await objects()).find((o) => o.key === oauthKeys.pending(state));
    expect(pending?.body).toContain('encryptedDataKey');
    expect(pending?.body).not.toContain(remote.mcpUrl); // nothing of the login in plain text

    const done = await call('GET', callback, undefined);
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ server: id, status: 'connected', scopes: 'mcp:tools' });
    const again = await call('GET', callback, undefined);
    expect(again.status).toBe(400);
    expect(again.body.error.message).toMatch(/unknown, already used or expired/);
    expect((await objects()).some((o) => o.key === oauthKeys.pending(state))).toBe(false);
    expect((await call('GET', '/mcp-connections', 'acct-a')).body.connections).toEqual([expect.objectContaining({ id, status: 'running' })]);
    expect((await call('GET', '/oauth/callback?state=forged&code=x', undefined)).status).toBe(400);
  });

  it('takes a pending login once when two callbacks race for it', async () => {
    const pending = new S3PendingLogins({ s3: aws.s3, bucket: BUCKET, envelope });
    const login = { accountId: 'acct-a', server: id, redirectUrl: `https://${HOST}/oauth/callback`, codeVerifier: 'v'.repeat(43), expiresAt: Date.now() + 60_000 };
    await pending.create('race-state', login);
    await expect(pending.create('race-state', login)).rejects.toThrow(/already exists/);
    const taken = await Promise.all([pending.take('race-state'), pending.take('race-state')]);
    expect(taken.filter((t) => t !== undefined)).toHaveLength(1);
  });

  it("runs a durable task of the account with the connection's tool on the account's tokens", async () => {
    const taskId = `task-${randomUUID()}`;
    await taskStore.create(newTaskRecord({ id: taskId, prompt: 'echo through the remote server', source: 'http', accountId: 'acct-a' }));
    const redactor = new Redactor();
    const runStore = new S3TaskStore({ s3: aws.s3, bucket: BUCKET, redactor });
    model.setScript((request) =>
      request.index === 0 ? { toolUses: [{ name: 'mcp__remote__echo', input: { text: 'from lambda' } }] } : { text: `got ${[...lastToolResults(request).values()][0]!.text}` },
    );
    const handler = createAgentHandler({
      store: runStore,
      runTask,
      prepare: async (record) =>
        prepareDeployedRun(record, {
          environment: { ANTHROPIC_BASE_URL: model.url },
          secrets: { ANTHROPIC_API_KEY: 'sk-ant-test-000000' },
          redactor,
          connections: {
            store,
            envelope,
            catalog: () => loadS3Catalog(aws.s3, BUCKET, 'config/mcp-catalog.json'),
            sandboxes: () => {
              throw new Error('a remote connection needs no sandbox');
            },
            runtime: { node: 'node', nodeModules: '/nowhere' },
            oauth: { s3: aws.s3, bucket: BUCKET },
          },
          overrides: { sandboxProvider: noTaskSandbox },
        }),
    });
    const run = await new LocalDurableTestRunner({ handlerFunction: withDurableExecution(handler) }).run({ payload: { taskId } });
    expect(run.getStatus()).toBe('SUCCEEDED');
    expect((await runStore.get(taskId))?.result?.text).toBe('got echo: from lambda');
    expect(remote.calls).toContainEqual({ tool: 'echo', args: { text: 'from lambda' } });
  }, 90_000);

  it('refreshes an expired token without a person and seals the new one back; a revoked refresh token marks the connection needs_login', async () => {
    const catalog = await loadS3Catalog(aws.s3, BUCKET, 'config/mcp-catalog.json');
    remote.expireAccessTokens();
    const before = (await objects()).find((o) => o.key === oauthKeys.tokens('acct-a', id))!.body;
    const refreshes = remote.grants.filter((g) => g === 'refresh_token').length;
    const attached = await attachRemoteConnections({ ...connections(), catalog }, 'acct-a');
    expect(attached.attached).toEqual(['remote']);
    const echo = attached.tools.find((t) => t.name === 'mcp__remote__echo')!;
    expect(JSON.stringify(await echo.execute({ text: 'after expiry' }, { signal: new AbortController().signal } as never))).toContain('echo: after expiry');
    await attached.close();
    expect(remote.grants.filter((g) => g === 'refresh_token').length).toBe(refreshes + 1);
    const after = (await objects()).find((o) => o.key === oauthKeys.tokens('acct-a', id))!.body;
    expect(after).not.toBe(before);
    expect(after).toContain('encryptedDataKey');

    // Another account sees nothing of it.
    expect((await attachRemoteConnections({ ...connections(), catalog }, 'acct-b')).tools).toEqual([]);

    remote.revokeRefreshTokens();
    remote.expireAccessTokens();
    const revoked = await attachRemoteConnections({ ...connections(), catalog }, 'acct-a');
    expect(revoked.tools).toEqual([]);
    expect(revoked.unavailable).toEqual([{ name: 'remote', error: `needs a login: POST /mcp-connections/${id}/oauth/start` }]);
    await revoked.close();
    expect((await store.get('acct-a', id))?.record.status).toBe('needs_login');
    // The next task is told without asking the server again.
    const unasked = remote.grants.length;
    expect((await attachRemoteConnections({ ...connections(), catalog }, 'acct-a')).unavailable).toEqual([{ name: 'remote', error: `needs a login: POST /mcp-connections/${id}/oauth/start` }]);
    expect(remote.grants.length).toBe(unasked);
  });

  it('no issued token appears in any S3 object or answer', async () => {
    // Log in once more, so the bucket holds live tokens while we look; a started login leaves the stored tokens alone.
    const sealedBefore = (await objects()).find((o) => o.key === oauthKeys.tokens('acct-a', id))?.body;
    const callback = await login();
    expect((await objects()).find((o) => o.key === oauthKeys.tokens('acct-a', id))?.body).toBe(sealedBefore);
    expect((await call('GET', callback, undefined)).status).toBe(200);
    const all = await objects();
    expect(all.some((o) => o.key === oauthKeys.tokens('acct-a', id) && o.body.includes('encryptedDataKey'))).toBe(true);
    expect(remote.issued.length).toBeGreaterThanOrEqual(6);
    for (const t of remote.issued) {
      expect(all.filter((o) => o.body.includes(t)).map((o) => o.key)).toEqual([]);
      expect(answers.filter((a) => a.includes(t))).toEqual([]);
    }
  });

  it('logout forgets the tokens; deleting the connection deletes them too', async () => {
    const out = await call('DELETE', `/mcp-connections/${id}/oauth`, 'acct-a');
    expect(out.body).toEqual({ server: id, loggedOut: true });
    expect((await objects()).some((o) => o.key === oauthKeys.tokens('acct-a', id))).toBe(false);
    expect((await store.get('acct-a', id))?.record.status).toBe('needs_login');

    expect((await call('GET', await login(), undefined)).status).toBe(200);
    expect((await objects()).some((o) => o.key === oauthKeys.tokens('acct-a', id))).toBe(true);
    expect((await call('DELETE', `/mcp-connections/${id}`, 'acct-a')).status).toBeLessThan(300);
    expect((await objects()).filter((o) => o.key.includes(id)).map((o) => o.key)).toEqual([]);
  });
});
