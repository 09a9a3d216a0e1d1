/**
 * The API function on the wire: the HTTP app through `hono/aws-lambda`, invoked with API Gateway HTTP API
 * (payload v2) events, on fauxqs's SQS and S3. The account comes from the authorizer's context.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PurgeQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { S3TaskStore, SqsTaskQueue, approvalKey, createApiHandler, parseTaskMessage, type LambdaSender } from '../../lib/aws/index.js';
import { startFauxqsHarness, type FauxqsHarness } from '../helpers/fauxqs.js';
import { apiGatewayEvent } from '../helpers/factories.js';

const BUCKET = 'api-tasks';

/** An API Gateway HTTP API (payload format 2.0) event, as the Lambda authorizer leaves it. */
function httpApiEvent(method: string, path: string, options: { accountId?: string; body?: string; query?: string } = {}) {
  const { query, ...rest } = options;
  return apiGatewayEvent(method, query ? `${path}?${query}` : path, { ...rest, headers: { authorization: 'Bearer not-read-here' } }) as Parameters<ReturnType<typeof createApiHandler>>[0];
}

describe('API function on API Gateway events (fauxqs)', () => {
  let aws: FauxqsHarness;
  let queueUrl: string;
  let handler: ReturnType<typeof createApiHandler>;
  let store: S3TaskStore;
  const lambdaCalls: unknown[] = [];

  const receiveAll = async () =>
    (await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }))).Messages ?? [];
  const json = (body: string | undefined) => JSON.parse(body ?? 'null');

  beforeAll(async () => {
    aws = await startFauxqsHarness();
    aws.server.createBucket(BUCKET);
    queueUrl = aws.server.createQueue('api-tasks').queueUrl;
    // Lambda itself cannot run here; these tests never reach it (no task is running), and any call is recorded.
    const lambda: LambdaSender = { send: (async (command: unknown) => (lambdaCalls.push(command), { DurableExecutions: [] })) as LambdaSender['send'] };
    store = new S3TaskStore({ s3: aws.s3, bucket: BUCKET });
    handler = createApiHandler({
      store,
      queue: new SqsTaskQueue(aws.sqs, queueUrl),
      lambda,
      agentFunctionName: 'agent:live',
    });
  });
  afterAll(async () => {
    await aws?.stop();
  });
  beforeEach(async () => {
    await aws.sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
  });

  it('queues a real SQS message for POST /tasks, in the documented format', async () => {
    // prepare
    const event = httpApiEvent('POST', '/tasks', { accountId: 'acct-1', body: JSON.stringify({ prompt: 'count the files', budget: { maxSteps: 5 } }) });
    // act
    const response = await handler(event);
    const messages = await receiveAll();
    // assess
    expect(response.statusCode).toBe(202);
    expect(response.headers['content-type']).toMatch(/application\/json/);
    const answer = json(response.body);
    expect(answer).toEqual({ taskId: expect.any(String), status: 'queued' });
    expect(messages).toHaveLength(1);
    expect(parseTaskMessage(messages[0]!.Body!)).toEqual({ taskId: answer.taskId, accountId: 'acct-1', source: 'http', prompt: 'count the files' });
  });

  it('answers 401 JSON when the authorizer left no account, and queues nothing', async () => {
    // act
    const response = await handler(httpApiEvent('POST', '/tasks', { body: JSON.stringify({ prompt: 'hi' }) }));
    // assess
    expect(response.statusCode).toBe(401);
    expect(json(response.body)).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect(await receiveAll()).toHaveLength(0);
  });

  it('answers 400 JSON for a bad body, and nothing reaches the queue', async () => {
    // act
    const notJson = await handler(httpApiEvent('POST', '/tasks', { accountId: 'acct-1', body: '{"prompt": ' }));
    const noPrompt = await handler(httpApiEvent('POST', '/tasks', { accountId: 'acct-1', body: JSON.stringify({ prompt: '', extra: 1 }) }));
    // assess
    for (const response of [notJson, noPrompt]) {
      expect(response.statusCode).toBe(400);
      expect(json(response.body).error.code).toBe('invalid_input');
    }
    expect(await receiveAll()).toHaveLength(0);
  });

  it('serves GET /tasks/{id} and its events to the owner only: another account gets 404', async () => {
    // prepare
    const submitted = json((await handler(httpApiEvent('POST', '/tasks', { accountId: 'acct-1', body: JSON.stringify({ prompt: 'mine' }) }))).body);
    const path = `/tasks/${submitted.taskId}`;
    // act
    const own = await handler(httpApiEvent('GET', path, { accountId: 'acct-1' }));
    const events = await handler(httpApiEvent('GET', `${path}/events`, { accountId: 'acct-1', query: 'after=0' }));
    const other = await handler(httpApiEvent('GET', path, { accountId: 'acct-2' }));
    const otherCancel = await handler(httpApiEvent('POST', `${path}/cancel`, { accountId: 'acct-2' }));
    // assess
    expect(own.statusCode).toBe(200);
    expect(json(own.body)).toMatchObject({ id: submitted.taskId, prompt: 'mine', status: 'queued', source: 'http', accountId: 'acct-1' });
    expect(json(events.body).events.map((e: { type: string }) => e.type)).toEqual(['task.queued']);
    expect(other.statusCode).toBe(404);
    expect(json(other.body)).toEqual({ error: { code: 'not_found', message: `task ${submitted.taskId} does not exist` } });
    expect(otherCancel.statusCode).toBe(404);
  });

  it('cancels a queued task without touching Lambda', async () => {
    // prepare
    const submitted = json((await handler(httpApiEvent('POST', '/tasks', { accountId: 'acct-1', body: JSON.stringify({ prompt: 'stop me' }) }))).body);
    lambdaCalls.length = 0;
    // act
    const response = await handler(httpApiEvent('POST', `/tasks/${submitted.taskId}/cancel`, { accountId: 'acct-1' }));
    // assess
    expect(response.statusCode).toBe(200);
    expect(json(response.body)).toMatchObject({ id: submitted.taskId, status: 'cancelled' });
    expect(lambdaCalls).toHaveLength(0);
  });

  it('decides an approval once: the second decision answers 409 JSON, and the pending document is gone', async () => {
    // prepare: a task paused on an approval, as the durable journal leaves it
    const submitted = json((await handler(httpApiEvent('POST', '/tasks', { accountId: 'acct-1', body: JSON.stringify({ prompt: 'ask first' }) }))).body);
    const key = approvalKey(submitted.taskId, 'ap-1');
    await store.putDocument(key, { taskId: submitted.taskId, approvalId: 'ap-1', tool: 'run_command', callbackId: 'cb-1', requestedAt: new Date().toISOString() });
    lambdaCalls.length = 0;
    const approve = (body: unknown) => handler(httpApiEvent('POST', `/tasks/${submitted.taskId}/approvals/ap-1`, { accountId: 'acct-1', body: JSON.stringify(body) }));
    // act
    const first = await approve({ approve: true });
    const second = await approve({ approve: false, reason: 'changed my mind' });
    // assess
    expect(first.statusCode).toBe(200);
    expect(second.statusCode).toBe(409);
    expect(json(second.body)).toEqual({ error: { code: 'conflict', message: `approval ap-1 of task ${submitted.taskId} was already decided` } });
    expect(lambdaCalls.map((c) => (c as object).constructor.name)).toEqual(['SendDurableExecutionCallbackSuccessCommand']);
    expect(await store.getDocument(key)).toBeUndefined();
  });

  it('answers 501 JSON for schedules when the function has no scheduler', async () => {
    // act
    const response = await handler(httpApiEvent('GET', '/schedules', { accountId: 'acct-1' }));
    // assess
    expect(response.statusCode).toBe(501);
    expect(json(response.body).error.code).toBe('not_implemented');
  });
});
