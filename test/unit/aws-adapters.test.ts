/**
 * Secrets Manager and EventBridge Scheduler have no local peer: their clients are stubbed here (a `send` that
 * answers by command name). The Secrets Manager contract test at the end runs only with AWS credentials.
 */
import { describe, expect, it } from 'vitest';
import { CreateScheduleCommand, DeleteScheduleCommand, GetScheduleCommand, ListSchedulesCommand } from '@aws-sdk/client-scheduler';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  EventBridgeSchedules,
  SecretCache,
  accountIdFromRequestContext,
  authorize,
  configWithSecrets,
  loadSecrets,
  parseDecision,
  parseTaskMessage,
  sha256Hex,
  toScheduleExpression,
  type SecretsSender,
  type SchedulerSender,
} from '../../lib/aws/index.js';

function secretsClient(values: Record<string, string>) {
  const calls: string[] = [];
  const client: SecretsSender = {
    send: (async (cmd: GetSecretValueCommand) => {
      calls.push(cmd.input.SecretId!);
      const v = values[cmd.input.SecretId!];
      if (v === undefined) throw Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' });
      return { SecretString: v };
    }) as SecretsSender['send'],
  };
  return { client, calls };
}

describe('secrets', () => {
  it('caches a secret for its TTL, reads again after it, and never caches a failure', async () => {
    // prepare
    let now = 0;
    const { client, calls } = secretsClient({ arn1: JSON.stringify({ ANTHROPIC_API_KEY: 'sk-ant-aaaaaaaaaaaa', OTHER: 'x' }) });
    const cache = new SecretCache(client, { ttlMs: 1000, now: () => now });
    // act
    const a = await loadSecrets('arn1', { cache });
    await loadSecrets('arn1', { cache });
    now = 1500;
    await loadSecrets('arn1', { cache });
    await expect(cache.get('missing')).rejects.toThrow();
    await expect(cache.get('missing')).rejects.toThrow();
    // assess
    expect(a).toEqual({ ANTHROPIC_API_KEY: 'sk-ant-aaaaaaaaaaaa' });
    expect(calls).toEqual(['arn1', 'arn1', 'missing', 'missing']);
  });

  it('refuses a non-JSON secret without echoing its text', async () => {
    // prepare
    const { client } = secretsClient({ arn: 'plain-secret-value-123456' });
    // act
    const err = await new SecretCache(client).get('arn').catch((e) => e);
    // assess
    expect(err.code).toBe('missing_config');
    expect(String(err.message)).not.toContain('plain-secret-value');
  });

  it('lays secrets over the env in a copy: process.env untouched, redactor knows the values', () => {
    // prepare
    const env = { DEEP_AGENT_SANDBOX: 'e2b', DEEP_AGENT_MODEL: 'claude-x' };
    // act
    const { config, redactor } = configWithSecrets(env, { ANTHROPIC_API_KEY: 'key-abcdefghijkl', E2B_API_KEY: 'e2b-abcdefghijkl' });
    // assess
    expect(config).toMatchObject({ model: { anthropicApiKey: 'key-abcdefghijkl', id: 'claude-x' }, sandbox: { e2bApiKey: 'e2b-abcdefghijkl', provider: 'e2b' } });
    expect(process.env.ANTHROPIC_API_KEY).not.toBe('key-abcdefghijkl');
    expect(env).not.toHaveProperty('ANTHROPIC_API_KEY');
    expect(redactor.redactString('k=key-abcdefghijkl')).toBe('k=[REDACTED]');
  });
});

describe('authorizer', () => {
  const token = 'tok-0123456789abcdef';
  const deps = () => {
    const { client, calls } = secretsClient({ tokens: JSON.stringify({ tokens: { [sha256Hex(token)]: 'acct-7' } }) });
    return { cache: new SecretCache(client), secretArn: 'tokens', calls };
  };

  it('allows a known bearer token with its account id (HTTP API simple response), cached', async () => {
    // prepare
    const d = deps();
    const event = { type: 'REQUEST', routeArn: 'arn:r', headers: { authorization: `Bearer ${token}` } };
    // act
    const first = await authorize(event, d);
    const second = await authorize(event, d);
    // assess
    expect(first).toEqual({ isAuthorized: true, context: { accountId: 'acct-7' } });
    expect(second).toEqual(first);
    expect(d.calls).toHaveLength(1);
  });

  it('denies by default: no header, wrong scheme, unknown token, unreadable secret', async () => {
    // prepare
    const d = deps();
    const broken = { cache: new SecretCache(secretsClient({}).client), secretArn: 'absent' };
    // act
    const answers = await Promise.all([
      authorize({ headers: {} }, d),
      authorize({ headers: { Authorization: `Basic ${token}` } }, d),
      authorize({ headers: { Authorization: 'Bearer tok-unknown-000000' } }, d),
      authorize({ headers: { Authorization: `Bearer ${token}` } }, broken),
    ]);
    // assess
    for (const a of answers) expect(a).toEqual({ isAuthorized: false });
  });

  it('answers a REST event with an IAM policy, and 401 (throw) without a valid token', async () => {
    // prepare
    const d = deps();
    const methodArn = 'arn:aws:execute-api:eu-west-1:123:abc/prod/GET/tasks/1';
    // act
    const allowed = await authorize({ methodArn, headers: { Authorization: `Bearer ${token}` } }, d);
    const denied = authorize({ methodArn, headers: {} }, d);
    // assess
    expect(allowed).toMatchObject({
      principalId: 'acct-7',
      context: { accountId: 'acct-7' },
      policyDocument: { Statement: [{ Effect: 'Allow', Resource: 'arn:aws:execute-api:eu-west-1:123:abc/prod/*' }] },
    });
    await expect(denied).rejects.toThrow('Unauthorized');
  });

  it('reads the account id from either API flavour', () => {
    expect(accountIdFromRequestContext({ authorizer: { lambda: { accountId: 'a1' } } })).toBe('a1');
    expect(accountIdFromRequestContext({ authorizer: { accountId: 'a2' } })).toBe('a2');
    expect(accountIdFromRequestContext({})).toBeUndefined();
  });
});

describe('task messages and approvals', () => {
  it('accepts the documented message shapes and rejects others with one line', () => {
    expect(parseTaskMessage('{"prompt":"hi"}')).toEqual({ prompt: 'hi' });
    expect(parseTaskMessage('{"prompt":"hi","taskId":"t-1","accountId":"a","source":"http"}')).toMatchObject({ taskId: 't-1', source: 'http' });
    expect(() => parseTaskMessage('nope')).toThrow('task message is not JSON');
    expect(() => parseTaskMessage('{"prompt":""}')).toThrow(/prompt/);
    expect(() => parseTaskMessage('{"prompt":"x","extra":1}')).toThrow();
    expect(() => parseTaskMessage('{"prompt":"x","taskId":"../etc"}')).toThrow(/taskId/);
  });

  it('reads approval decisions; anything unreadable is a denial', () => {
    expect(parseDecision('{"approve":true}')).toEqual({ approve: true });
    expect(parseDecision('{"approve":false,"reason":"no"}')).toEqual({ approve: false, reason: 'no' });
    expect(parseDecision('garbage').approve).toBe(false);
    expect(parseDecision(undefined).approve).toBe(false);
  });
});

describe('EventBridge schedules', () => {
  function schedulerClient() {
    const sent: { name: string; input: any }[] = [];
    const stored = new Map<string, any>();
    const client: SchedulerSender = {
      send: (async (cmd: any) => {
        const name = cmd.constructor.name;
        sent.push({ name, input: cmd.input });
        if (cmd instanceof CreateScheduleCommand) stored.set(cmd.input.Name!, cmd.input);
        if (cmd instanceof GetScheduleCommand) {
          const s = stored.get(cmd.input.Name!);
          if (!s) throw Object.assign(new Error('nf'), { name: 'ResourceNotFoundException' });
          return { ...s, State: 'ENABLED' };
        }
        if (cmd instanceof ListSchedulesCommand) return { Schedules: [...stored.keys()].map((Name) => ({ Name })) };
        if (cmd instanceof DeleteScheduleCommand) stored.delete(cmd.input.Name!);
        return {};
      }) as SchedulerSender['send'],
    };
    return { client, sent };
  }
  const options = { groupName: 'deep-agent', queueArn: 'arn:sqs:q', roleArn: 'arn:iam:role', dlqArn: 'arn:sqs:dlq' };

  it('translates Unix cron and rates into EventBridge expressions', () => {
    expect(toScheduleExpression({ cron: '0 9 * * 1-5' })).toBe('cron(0 9 ? * 2-6 *)');
    expect(toScheduleExpression({ cron: '30 6 1 * *' })).toBe('cron(30 6 1 * ? *)');
    expect(toScheduleExpression({ cron: '0 0 * * SUN,0' })).toBe('cron(0 0 ? * 1,1 *)');
    expect(toScheduleExpression({ rate: '15 minutes' })).toBe('rate(15 minutes)');
    expect(toScheduleExpression({ rate: '1h' })).toBe('rate(1 hour)');
    expect(() => toScheduleExpression({ cron: '* * *' })).toThrow(/5 fields/);
    expect(() => toScheduleExpression({ rate: 'often' })).toThrow(/rate/);
  });

  it('creates a schedule that sends a "schedule" task message to the queue with retries and a DLQ', async () => {
    // prepare
    const { client, sent } = schedulerClient();
    const schedules = new EventBridgeSchedules(client, options);
    // act
    const info = await schedules.create({ cron: '0 9 * * 1', prompt: 'weekly report', timezone: 'Europe/Berlin' }, 'acct-1');
    // assess
    const create = sent.find((s) => s.name === 'CreateScheduleCommand')!.input;
    expect(create).toMatchObject({
      Name: info.id,
      GroupName: 'deep-agent',
      ScheduleExpression: 'cron(0 9 ? * 2 *)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      FlexibleTimeWindow: { Mode: 'OFF' },
      // The same retry policy as the stack's static schedules.
      Target: { Arn: 'arn:sqs:q', RoleArn: 'arn:iam:role', DeadLetterConfig: { Arn: 'arn:sqs:dlq' }, RetryPolicy: { MaximumRetryAttempts: 5, MaximumEventAgeInSeconds: 3600 } },
    });
    // One idempotency key per firing: Scheduler fills in the execution id, the same on every retry of a firing.
    expect(parseTaskMessage(create.Target.Input)).toEqual({
      prompt: 'weekly report',
      source: 'schedule',
      accountId: 'acct-1',
      idempotencyKey: `schedule-${info.id}-<aws.scheduler.execution-id>`,
    });
  });

  it('lists, gets and deletes only the caller account\'s schedules', async () => {
    // prepare
    const { client } = schedulerClient();
    const schedules = new EventBridgeSchedules(client, options);
    const mine = await schedules.create({ rate: '1 day', prompt: 'mine' }, 'acct-1');
    const theirs = await schedules.create({ rate: '1 day', prompt: 'theirs' }, 'acct-2');
    // act
    const listed = await schedules.list('acct-1');
    const foreignDelete = schedules.delete(theirs.id, 'acct-1');
    await schedules.delete(mine.id, 'acct-1');
    // assess
    expect(listed.map((s) => s.prompt)).toEqual(['mine']);
    await expect(foreignDelete).rejects.toMatchObject({ code: 'not_found' });
    await expect(schedules.get(mine.id)).rejects.toMatchObject({ code: 'not_found' });
    expect((await schedules.list()).map((s) => s.id)).toEqual([theirs.id]);
    await expect(schedules.create({ prompt: 'x' } as never)).rejects.toMatchObject({ code: 'invalid_input' });
  });
});

const hasAws = Boolean(process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE) && Boolean(process.env.DEEP_AGENT_TEST_SECRET_ARN);
describe.skipIf(!hasAws)('Secrets Manager contract (real AWS; needs credentials and DEEP_AGENT_TEST_SECRET_ARN)', () => {
  it('reads the agent secret as a token map', async () => {
    const cache = new SecretCache(new SecretsManagerClient({}));
    const tokens = await loadSecrets(process.env.DEEP_AGENT_TEST_SECRET_ARN!, { cache });
    expect(typeof tokens).toBe('object');
    for (const v of Object.values(tokens)) expect(typeof v).toBe('string');
  });
});
