/**
 * Assertions on the synthesized DeepAgent template (issue 5 acceptance), with cdk-nag's AwsSolutions pack
 * registered exactly as bin/app.ts registers it. The stack is synthesized once for the whole file.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DeepAgentStack, TOKEN_SECRET_KEYS } from '../../lib/infra/index.js';

type Resource = { Type: string; Properties: Record<string, any> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

let template: Template;
let resources: Record<string, Resource>;
let stack: DeepAgentStack;

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const only = (type: string, pick: (r: Resource) => boolean = () => true) => {
  const found = ofType(type).filter(([, r]) => pick(r));
  expect(found, `exactly one ${type}`).toHaveLength(1);
  return found[0]!;
};
const getAtt = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const asList = <T>(x: T | T[]) => (Array.isArray(x) ? x : [x]);

/** The context `cdk synth` uses (feature flags and deep-agent settings), so tests see the deployed shape. */
const cdkContext = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;

function nagApp(extraContext: Record<string, unknown> = {}): App {
  const app = new App({ context: { ...cdkContext, ...extraContext } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}

beforeAll(() => {
  // prepare: every optional feature on, so every resource kind is checked and nagged
  const app = nagApp();
  stack = new DeepAgentStack(app, 'DeepAgentTest', {
    env: { account: '123456789012', region: 'eu-west-1' },
    config: {
      maxReceiveCount: 4,
      maxConcurrentTasks: 30,
      alarmEmail: 'ops@example.com',
      schedules: [{ name: 'daily-triage', expression: 'cron(0 9 ? * MON-FRI *)', prompt: 'Triage new issues', timezone: 'Europe/Paris' }],
    },
  });
  // act: a full synth runs bundling and the nag plugin; an unacknowledged finding throws here
  const assembly = app.synth();
  template = Template.fromJSON(assembly.getStackByName(stack.stackName).template);
  resources = template.toJSON().Resources;
});

describe('task queue', () => {
  it('has a dead-letter queue with the configured maxReceiveCount', () => {
    const [, queue] = only('AWS::SQS::Queue', (r) => r.Properties.RedrivePolicy !== undefined);
    const dlqId = queue.Properties.RedrivePolicy.deadLetterTargetArn['Fn::GetAtt'][0];
    expect(resources[dlqId]?.Type).toBe('AWS::SQS::Queue');
    expect(queue.Properties.RedrivePolicy.maxReceiveCount).toBe(4);
  });

  it('keeps visibility at least 6x the timeout of the function consuming it', () => {
    const [queueId, queue] = only('AWS::SQS::Queue', (r) => r.Properties.RedrivePolicy !== undefined);
    const [, mapping] = only('AWS::Lambda::EventSourceMapping');
    expect(mapping.Properties.EventSourceArn).toEqual(getAtt(queueId));
    const consumer = resources[mapping.Properties.FunctionName.Ref]!;
    expect(consumer.Properties.Timeout).toBeGreaterThan(0);
    expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * consumer.Properties.Timeout);
  });

  it('reports partial batch failures with a bounded batch and concurrency', () => {
    const [, mapping] = only('AWS::Lambda::EventSourceMapping');
    expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(mapping.Properties.BatchSize).toBeLessThanOrEqual(10);
    expect(mapping.Properties.ScalingConfig.MaximumConcurrency).toBeGreaterThanOrEqual(2);
  });

  it('sizes the dispatcher and the agent from one setting: reserved concurrency on the agent', () => {
    const [, agent] = only('AWS::Lambda::Function', (r) => r.Properties.DurableConfig !== undefined);
    const [, mapping] = only('AWS::Lambda::EventSourceMapping');
    expect(agent.Properties.ReservedConcurrentExecutions).toBe(30);
    // 30 slots, 10 starts per batch: three dispatchers fill them in one round.
    expect(mapping.Properties.ScalingConfig.MaximumConcurrency).toBe(3);
    const others = ofType('AWS::Lambda::Function').filter(([, r]) => r.Properties.DurableConfig === undefined);
    for (const [id, fn] of others) expect(fn.Properties.ReservedConcurrentExecutions, id).toBeUndefined();
  });

  it('encrypts every queue and denies non-TLS access to each', () => {
    const queues = ofType('AWS::SQS::Queue');
    expect(queues.length).toBeGreaterThanOrEqual(3);
    for (const [id, q] of queues) {
      expect(q.Properties.SqsManagedSseEnabled ?? q.Properties.KmsMasterKeyId, id).toBeTruthy();
      const policies = ofType('AWS::SQS::QueuePolicy').filter(([, p]) => JSON.stringify(p.Properties.Queues).includes(id));
      const statements: Statement[] = policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
      expect(
        statements.some((s) => s.Effect === 'Deny' && JSON.stringify(s.Condition).includes('"aws:SecureTransport":"false"')),
        `TLS deny on ${id}`,
      ).toBe(true);
    }
  });
});

describe('functions', () => {
  it('run nodejs24.x on ARM64, bundled as ESM, traced by X-Ray', () => {
    const fns = ofType('AWS::Lambda::Function');
    expect(fns).toHaveLength(6);
    for (const [id, fn] of fns) {
      expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
      expect(fn.Properties.Runtime, id).toBe('nodejs24.x');
      expect(fn.Properties.Architectures, id).toEqual(['arm64']);
      expect(fn.Properties.Handler, id).toBe('index.handler');
      expect(fn.Properties.Environment.Variables.POWERTOOLS_METRICS_NAMESPACE, id).toBe('DeepAgent');
      expect(fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME, id).toMatch(/^deep-agent-/);
    }
  });

  it('makes the agent durable and starts it only through its alias', () => {
    const [agentId, agent] = only('AWS::Lambda::Function', (r) => r.Properties.DurableConfig !== undefined);
    expect(agent.Properties.DurableConfig).toEqual({ ExecutionTimeout: 24 * 3600, RetentionPeriodInDays: 14 });
    expect(agent.Properties.Runtime).toBe('nodejs24.x');
    expect(agent.Properties.Environment.Variables.DEEP_AGENT_SANDBOX).toBe('e2b');
    const [aliasId, alias] = only('AWS::Lambda::Alias');
    expect(alias.Properties.FunctionName).toEqual({ Ref: agentId });
    const [, mapping] = only('AWS::Lambda::EventSourceMapping');
    const dispatcher = resources[mapping.Properties.FunctionName.Ref]!;
    expect(dispatcher.Properties.Environment.Variables.AGENT_FUNCTION_NAME).toEqual({ Ref: aliasId });
    const invokes = ofType('AWS::IAM::Policy')
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[])
      .filter((s) => asList(s.Action).includes('lambda:InvokeFunction'));
    // The agent only through its alias (dispatcher); the sweeper and the keeper unqualified (the API, after a
    // cancel, an install or a delete).
    const [sweeperId] = only('AWS::Lambda::Function', (r) => r.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME === 'deep-agent-sweeper');
    const [keeperId] = only('AWS::Lambda::Function', (r) => r.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME === 'deep-agent-keeper');
    expect(invokes.map((s) => s.Resource)).toEqual(expect.arrayContaining([{ Ref: aliasId }, expect.arrayContaining([getAtt(sweeperId), getAtt(keeperId)])]));
    expect(invokes).toHaveLength(2);
  });

  it('sends failed agent executions to an SQS on-failure destination without async retries', () => {
    const [, config] = only('AWS::Lambda::EventInvokeConfig');
    const destination = config.Properties.DestinationConfig.OnFailure.Destination['Fn::GetAtt'][0];
    expect(resources[destination]?.Type).toBe('AWS::SQS::Queue');
    expect(config.Properties.MaximumRetryAttempts).toBe(0);
  });

  it('passes secret ARNs, never values, and only to the functions that read them', () => {
    const fns = ofType('AWS::Lambda::Function');
    for (const [id, fn] of fns) {
      const env = fn.Properties.Environment.Variables as Record<string, unknown>;
      for (const key of TOKEN_SECRET_KEYS) expect(env[key], `${key} in ${id}`).toBeUndefined();
    }
    const withSecret = fns.filter(([, fn]) => fn.Properties.Environment.Variables.SECRET_ARN);
    expect(withSecret.map(([, fn]) => fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME).sort()).toEqual(['deep-agent-agent', 'deep-agent-keeper', 'deep-agent-sweeper']);
    const withApiTokens = fns.filter(([, fn]) => fn.Properties.Environment.Variables.API_TOKENS_SECRET_ARN);
    expect(withApiTokens).toHaveLength(1);
    expect(withApiTokens[0]![1].Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME).toBe('deep-agent-authorizer');
  });
});

describe('task bucket', () => {
  it('is encrypted, blocks all public access, enforces TLS and expires transcripts', () => {
    const [bucketId, bucket] = only('AWS::S3::Bucket', (r) => r.Properties.LoggingConfiguration !== undefined);
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const transcripts = bucket.Properties.LifecycleConfiguration.Rules.find((r: any) => r.Id === 'expire-transcripts');
    expect(transcripts).toMatchObject({ Status: 'Enabled', ExpirationInDays: 30, TagFilters: [{ Key: 'deep-agent-kind', Value: 'transcript' }] });
    const [, policy] = only('AWS::S3::BucketPolicy', (p) => JSON.stringify(p.Properties.Bucket).includes(bucketId));
    const deny = (policy.Properties.PolicyDocument.Statement as Statement[]).find(
      (s) => s.Effect === 'Deny' && JSON.stringify(s.Condition).includes('"aws:SecureTransport":"false"'),
    );
    expect(deny).toBeDefined();
    const logBucketId = bucket.Properties.LoggingConfiguration.DestinationBucketName.Ref;
    expect(resources[logBucketId]?.Type).toBe('AWS::S3::Bucket');
    expect(logBucketId).not.toBe(bucketId);
  });
});

describe('api', () => {
  it('authorizes every route with the Lambda REQUEST authorizer, except the dashboard\'s static files', () => {
    const [authorizerId, authorizer] = only('AWS::ApiGatewayV2::Authorizer');
    expect(authorizer.Properties.AuthorizerType).toBe('REQUEST');
    expect(authorizer.Properties.IdentitySource).toEqual(['$request.header.Authorization']);
    const all = ofType('AWS::ApiGatewayV2::Route');
    const publicKeys = ['GET /', 'GET /dashboard/{file}', 'GET /favicon.ico'];
    const open = all.filter(([, r]) => publicKeys.includes(r.Properties.RouteKey));
    expect(open.map(([, r]) => [r.Properties.RouteKey, r.Properties.AuthorizationType]).sort()).toEqual(publicKeys.map((k) => [k, 'NONE']).sort());
    const routes = all.filter(([, r]) => !publicKeys.includes(r.Properties.RouteKey));
    expect(routes.length).toBeGreaterThanOrEqual(13);
    for (const [, route] of routes) {
      expect(route.Properties.AuthorizationType, route.Properties.RouteKey).toBe('CUSTOM');
      expect(route.Properties.AuthorizerId, route.Properties.RouteKey).toEqual({ Ref: authorizerId });
    }
    const keys = routes.map(([, r]) => r.Properties.RouteKey);
    expect(keys).toEqual(expect.arrayContaining(['POST /tasks', 'GET /tasks', 'GET /tasks/{id}/events', 'POST /tasks/{id}/approvals/{approvalId}', 'DELETE /schedules/{id}']));
  });

  it('logs access on its stage', () => {
    const [, stage] = only('AWS::ApiGatewayV2::Stage');
    expect(stage.Properties.AccessLogSettings.DestinationArn).toBeDefined();
    expect(stage.Properties.AccessLogSettings.Format).toContain('$context.requestId');
  });
});

describe('schedules', () => {
  it('send task messages to the queue with a retry policy and the DLQ', () => {
    const [queueId, queue] = only('AWS::SQS::Queue', (r) => r.Properties.RedrivePolicy !== undefined);
    const dlqId = queue.Properties.RedrivePolicy.deadLetterTargetArn['Fn::GetAtt'][0];
    const [, schedule] = only('AWS::Scheduler::Schedule');
    const target = schedule.Properties.Target;
    expect(target.Arn).toEqual(getAtt(queueId));
    expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 5, MaximumEventAgeInSeconds: 3600 });
    expect(target.DeadLetterConfig.Arn).toEqual(getAtt(dlqId));
    expect(schedule.Properties.ScheduleExpressionTimezone).toBe('Europe/Paris');
    expect(JSON.parse(target.Input)).toMatchObject({ prompt: 'Triage new issues', source: 'schedule' });
    const role = resources[target.RoleArn['Fn::GetAtt'][0]]!;
    const roleId = target.RoleArn['Fn::GetAtt'][0];
    expect(role.Type).toBe('AWS::IAM::Role');
    const statements = ofType('AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
    expect(statements.flatMap((s) => asList(s.Action))).toEqual(['sqs:SendMessage']);
  });
});

describe('iam', () => {
  it('never grants a wildcard action, nor any action on * for data resources', () => {
    const statements = ofType('AWS::IAM::Policy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
    expect(statements.length).toBeGreaterThan(5);
    for (const s of statements) {
      for (const action of asList(s.Action)) expect(action).not.toMatch(/(^\*$)|(:\*$)/);
      if (asList(s.Resource).includes('*')) {
        for (const action of asList(s.Action)) {
          expect(['scheduler:ListSchedules', 'xray:PutTraceSegments', 'xray:PutTelemetryRecords'], 'only calls without resource-level permissions').toContain(action);
        }
      }
      const dataAction = asList(s.Action).some((a) => /^(s3|sqs|secretsmanager):/.test(a));
      if (dataAction) expect(asList(s.Resource), JSON.stringify(s.Action)).not.toContain('*');
    }
  });
});

describe('alarms and outputs', () => {
  it('alarm on any message in the DLQ, on agent errors, to the alarm topic', () => {
    const [queueId] = only('AWS::SQS::Queue', (r) => r.Properties.RedrivePolicy !== undefined);
    const dlqId = (resources[queueId]!.Properties.RedrivePolicy.deadLetterTargetArn as any)['Fn::GetAtt'][0];
    const [topicId] = only('AWS::SNS::Topic');
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const dlqAlarm = alarms.find(
      (a) => a.MetricName === 'ApproximateNumberOfMessagesVisible' && JSON.stringify(a.Dimensions).includes(dlqId),
    );
    expect(dlqAlarm).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', AlarmActions: [{ Ref: topicId }] });
    const dlqAge = alarms.find((a) => a.MetricName === 'ApproximateAgeOfOldestMessage' && JSON.stringify(a.Dimensions).includes(dlqId));
    expect(dlqAge).toMatchObject({ Threshold: 24 * 3600, AlarmActions: [{ Ref: topicId }] });
    const [agentId] = only('AWS::Lambda::Function', (r) => r.Properties.DurableConfig !== undefined);
    const errors = alarms.find((a) => a.MetricName === 'Errors' && JSON.stringify(a.Dimensions).includes(agentId));
    expect(errors).toMatchObject({ Threshold: 0, AlarmActions: [{ Ref: topicId }] });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('cover errors and throttles of the dispatcher and the API, API 5xx and leaked sandboxes; every alarm has an action', () => {
    const [topicId] = only('AWS::SNS::Topic');
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([id, a]) => [id, a.Properties] as const);
    for (const [id, a] of alarms) {
      expect(a.AlarmActions, id).toEqual([{ Ref: topicId }]);
      expect(a.OKActions, id).toEqual([{ Ref: topicId }]);
    }
    const fnId = (service: string) => only('AWS::Lambda::Function', (r) => r.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME === service)[0];
    const on = (metric: string, dimension: string) => alarms.filter(([, a]) => a.MetricName === metric && JSON.stringify(a.Dimensions).includes(dimension));
    for (const service of ['deep-agent-dispatcher', 'deep-agent-api']) {
      expect(on('Errors', fnId(service)), `${service} errors`).toHaveLength(1);
      expect(on('Throttles', fnId(service)), `${service} throttles`).toHaveLength(1);
    }
    expect(alarms.filter(([, a]) => a.MetricName === '5xx' && a.Namespace === 'AWS/ApiGateway')).toHaveLength(1);
    const leaked = alarms.filter(([, a]) => a.MetricName === 'SandboxesKilled');
    expect(leaked.map(([, a]) => [a.Namespace, a.Dimensions])).toEqual([['DeepAgent', [{ Name: 'service', Value: 'deep-agent-sweeper' }]]]);
  });

  it('output the API URL, queue URL, bucket name and secret ARNs', () => {
    const outputs = Object.keys(template.toJSON().Outputs);
    expect(outputs).toEqual(expect.arrayContaining(['ApiUrl', 'TaskQueueUrl', 'TaskBucketName', 'TokensSecretArn', 'ApiTokensSecretArn', 'AlarmTopicArn']));
  });
});

describe('sandbox sweeper', () => {
  it('runs on an EventBridge schedule, reads the tokens secret and may only read the task bucket', () => {
    const [sweeperId, sweeper] = only('AWS::Lambda::Function', (r) => r.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME === 'deep-agent-sweeper');
    const [, rule] = only('AWS::Events::Rule', (r) => JSON.stringify(r.Properties.Targets).includes(sweeperId));
    expect(rule.Properties.ScheduleExpression).toBe('rate(15 minutes)');
    expect(rule.Properties.State).toBe('ENABLED');
    expect(rule.Properties.Targets.map((t: any) => t.Arn)).toEqual([getAtt(sweeperId)]);
    expect(sweeper.Properties.Environment.Variables.SECRET_ARN).toBeDefined();
    const roleId = sweeper.Properties.Role['Fn::GetAtt'][0];
    const actions = ofType('AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(roleId))
      .flatMap(([, p]) => (p.Properties.PolicyDocument.Statement as Statement[]).flatMap((s) => asList(s.Action)));
    expect(actions.filter((a) => a.startsWith('s3:')).sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
  });
});

describe('MCP connections', () => {
  const fn = (service: string) => only('AWS::Lambda::Function', (r) => r.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME === service);
  const statementsOf = (fnResource: Resource) => {
    const roleId = fnResource.Properties.Role['Fn::GetAtt'][0];
    return ofType('AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
  };
  const kmsActions = (fnResource: Resource) => statementsOf(fnResource).flatMap((s) => asList(s.Action)).filter((a) => a.startsWith('kms:')).sort();

  it('creates a rotating KMS key; the API may only generate data keys, the keeper and the agent decrypt', () => {
    const [keyId, key] = only('AWS::KMS::Key');
    expect(key.Properties.EnableKeyRotation).toBe(true);
    const [, api] = fn('deep-agent-api');
    const [, agent] = fn('deep-agent-agent');
    const [, keeper] = fn('deep-agent-keeper');
    expect(kmsActions(api)).toEqual(['kms:GenerateDataKey']);
    expect(kmsActions(agent)).toContain('kms:Decrypt');
    expect(kmsActions(keeper)).toContain('kms:Decrypt');
    for (const f of [api, agent, keeper]) expect(f.Properties.Environment.Variables.CONNECTION_KEY_ARN).toEqual(getAtt(keyId));
  });

  it('runs the keeper every 5 minutes, and keeps the operator tokens from tenants by default', () => {
    const [keeperId] = fn('deep-agent-keeper');
    const [, rule] = only('AWS::Events::Rule', (r) => JSON.stringify(r.Properties.Targets).includes(keeperId));
    expect(rule.Properties.ScheduleExpression).toBe('rate(5 minutes)');
    const [, agent] = fn('deep-agent-agent');
    expect(agent.Properties.Environment.Variables.DEEP_AGENT_OPERATOR_TOKENS_FOR_TENANTS).toBe('false');
    const [, api] = fn('deep-agent-api');
    expect(api.Properties.Environment.Variables.KEEPER_FUNCTION_NAME).toEqual({ Ref: keeperId });
  });
});

describe('model provider', () => {
  it('grants Bedrock InvokeModel to the agent only when the provider is bedrock (nag still clean)', () => {
    // prepare: no bundling (the template is what matters here), the nag pack on
    const synthWith = (modelProvider: 'anthropic' | 'bedrock') => {
      const app = nagApp({ 'aws:cdk:bundling-stacks': [] });
      const s = new DeepAgentStack(app, `Provider-${modelProvider}`, { env: { account: '123456789012', region: 'eu-west-1' }, config: { modelProvider } });
      return app.synth().getStackByName(s.stackName).template as { Resources: Record<string, Resource> };
    };
    const bedrockActions = (t: { Resources: Record<string, Resource> }) =>
      Object.values(t.Resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy')
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
        .filter((s) => asList(s.Action).some((a) => a.startsWith('bedrock:')));
    // act
    const bedrock = synthWith('bedrock');
    const anthropic = synthWith('anthropic');
    // assess
    const grants = bedrockActions(bedrock);
    expect(grants.flatMap((s) => asList(s.Action)).sort()).toEqual(['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream']);
    expect(bedrockActions(anthropic)).toEqual([]);
    const agent = Object.values(bedrock.Resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.DurableConfig)!;
    expect(agent.Properties.Environment.Variables.DEEP_AGENT_MODEL_PROVIDER).toBe('bedrock');
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('passes with every finding acknowledged, each acknowledgement with its reason', () => {
    // The synth in beforeAll would have thrown on an unacknowledged finding; here: what was acknowledged.
    const acknowledged = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.entries(m.data as Record<string, string>));
    expect(acknowledged.length).toBeGreaterThan(10);
    for (const [id, reason] of acknowledged) {
      expect(id).toMatch(/^AwsSolutions::AwsSolutions-[A-Z]+\d+/);
      expect(reason.length, id).toBeGreaterThanOrEqual(40);
    }
  });

  it('is really active: an unacknowledged finding fails synth', () => {
    // prepare: a bucket with no access logs, no TLS enforcement
    const app = nagApp();
    const stack = new Stack(app, 'Noncompliant');
    new s3.Bucket(stack, 'Plain');
    // act + assess
    expect(() => app.synth()).toThrow(/server access logs disabled[\s\S]*AwsSolutions/);
  });
});
