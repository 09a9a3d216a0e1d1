import { Aws, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { AgentSecrets } from './agent-secrets.js';
import { TaskAlarms } from './alarms.js';
import { resolveStackConfig, type DeepAgentStackConfig, type ResolvedStackConfig } from './config.js';
import { suppressStackFindings } from './nag.js';
import { AgentNodeFunction, toRetentionDays } from './node-function.js';
import { TaskApi } from './task-api.js';
import { TaskBucket } from './task-bucket.js';
import { newTerminalQueue, TaskQueue } from './task-queue.js';
import { TaskSchedules } from './task-schedules.js';

/** Props of {@link DeepAgentStack}: the usual stack props plus the deployment settings. */
export interface DeepAgentStackProps extends StackProps {
  /**
   * Deployment settings (validated at synth).
   * @default - every setting's own default
   */
  readonly config?: DeepAgentStackConfig;
}

/** Invocation timeout of the dispatcher; the task queue's visibility timeout is six times this. */
export const DISPATCHER_TIMEOUT = Duration.seconds(30);
/** Alias through which the durable agent is invoked (durable invokes need a qualified ARN). */
export const AGENT_ALIAS_NAME = 'live';
/** Messages the dispatcher takes per invocation (each one starts one run). */
export const DISPATCH_BATCH_SIZE = 10;

/**
 * The dispatcher's event-source `maxConcurrency` for a task concurrency: enough dispatchers to fill every
 * agent slot in one round of batches, never below the event source's minimum of 2.
 *
 * @example
 * dispatcherConcurrencyFor(20); // 2
 */
export function dispatcherConcurrencyFor(maxConcurrentTasks: number): number {
  return Math.min(1000, Math.max(2, Math.ceil(maxConcurrentTasks / DISPATCH_BATCH_SIZE)));
}

/**
 * The whole AWS deployment (DESIGN section 2): HTTP API (Lambda authorizer) -> API function -> SQS task
 * queue (DLQ) -> dispatcher -> durable agent function (alias `live`), the S3 task store, the token secrets,
 * EventBridge Scheduler, the sandbox sweeper on an EventBridge schedule, alarms to an SNS topic, and outputs.
 *
 * Agent failures: an asynchronous invocation that fails (after the durable SDK's own step retries) goes to
 * a separate on-failure SQS queue, not the task DLQ, because it holds Lambda invocation records rather than
 * task messages; redriving the DLQ into the task queue therefore stays safe. Both queues are alarmed.
 *
 * @example
 * new DeepAgentStack(app, 'DeepAgent', { config: { maxReceiveCount: 5 } });
 */
export class DeepAgentStack extends Stack {
  readonly config: ResolvedStackConfig;
  readonly tasks: TaskQueue;
  readonly store: TaskBucket;
  readonly secrets: AgentSecrets;
  readonly api: TaskApi;
  readonly schedules: TaskSchedules;
  readonly agentFunction: AgentNodeFunction;
  readonly agentAlias: lambda.Alias;
  readonly agentFailureQueue: ReturnType<typeof newTerminalQueue>;
  readonly dispatcherFunction: AgentNodeFunction;
  readonly apiFunction: AgentNodeFunction;
  readonly authorizerFunction: AgentNodeFunction;
  readonly sweeperFunction: AgentNodeFunction;
  readonly sweepSchedule: events.Rule;
  /** The KMS key MCP connection credentials are envelope-encrypted under. */
  readonly connectionKey: kms.Key;
  readonly keeperFunction: AgentNodeFunction;
  readonly keeperSchedule: events.Rule;
  readonly alarms: TaskAlarms;

  constructor(scope: Construct, id: string, props: DeepAgentStackProps = {}) {
    super(scope, id, { description: 'deep-agent: Claude plan-execute agent in E2B sandboxes (API, queue, durable agent)', ...props });
    const config = (this.config = resolveStackConfig(props.config));
    const logRetention = toRetentionDays(config.logRetentionDays);

    this.store = new TaskBucket(this, 'TaskStore', config);
    this.secrets = new AgentSecrets(this, 'Secrets');
    this.tasks = new TaskQueue(this, 'Tasks', { consumerTimeout: DISPATCHER_TIMEOUT, maxReceiveCount: config.maxReceiveCount });
    this.agentFailureQueue = newTerminalQueue(this, 'AgentFailures');
    this.schedules = new TaskSchedules(this, 'Schedules', {
      queue: this.tasks.queue,
      deadLetterQueue: this.tasks.deadLetterQueue,
      schedules: config.schedules,
    });

    const storeEnv = { TASK_BUCKET: this.store.bucket.bucketName };
    this.connectionKey = new kms.Key(this, 'ConnectionKey', {
      description: 'deep-agent: envelope encryption of MCP connection credentials',
      enableKeyRotation: true,
    });
    const connectionEnv = { CONNECTION_KEY_ARN: this.connectionKey.keyArn };
    const queueEnv = { TASK_QUEUE_URL: this.tasks.queue.queueUrl, TASK_QUEUE_ARN: this.tasks.queue.queueArn };

    this.agentFunction = new AgentNodeFunction(this, 'Agent', {
      entry: 'lambdas/agent.ts',
      serviceName: 'deep-agent-agent',
      description: 'deep-agent durable agent: one plan-execute run per task',
      // One invocation is capped at 15 minutes; the durable execution resumes across invocations.
      timeout: Duration.minutes(15),
      memorySize: 1024,
      logRetention,
      // Bundled, as AWS recommends for durable functions: the durable SDK's checkpoint calls go through the
      // client-lambda it was built against, not whatever the runtime carries on the day.
      awsSdk: 'bundled',
      // One slot per concurrent task (E2B's plan caps concurrent sandboxes); excess starts wait in Lambda's
      // asynchronous queue, and a refused start goes back to the task queue (dispatcher).
      extra: { reservedConcurrentExecutions: config.maxConcurrentTasks },
      durableConfig: {
        executionTimeout: Duration.minutes(config.executionTimeoutMinutes),
        retentionPeriod: Duration.days(config.executionRetentionDays),
      },
      environment: {
        ...storeEnv,
        SECRET_ARN: this.secrets.tokens.secretArn,
        DEEP_AGENT_MODEL: config.model,
        DEEP_AGENT_MODEL_PROVIDER: config.modelProvider,
        DEEP_AGENT_SANDBOX: config.sandbox,
        // Lambda's only writable directory.
        DEEP_AGENT_HOME: '/tmp/deep-agent',
        // No npx in Lambda: the Notion preset runs in E2B's MCP gateway (GitHub's is a remote HTTP server).
        DEEP_AGENT_NOTION_MCP: 'e2b',
        ...connectionEnv,
        DEEP_AGENT_OPERATOR_TOKENS_FOR_TENANTS: String(config.operatorTokensForTenants),
      },
    });
    // The agent starts the account's connection servers for a task: it may decrypt their credentials.
    this.connectionKey.grantDecrypt(this.agentFunction);
    this.store.grantConnectionAccess(this.agentFunction, 'readWrite');
    this.agentAlias = new lambda.Alias(this, 'AgentLive', {
      aliasName: AGENT_ALIAS_NAME,
      version: this.agentFunction.currentVersion,
      onFailure: new SqsDestination(this.agentFailureQueue),
      // A retried start would hit the same durable execution name; the durable SDK retries steps itself.
      retryAttempts: 0,
      maxEventAge: Duration.hours(6),
    });
    this.secrets.tokens.grantRead(this.agentFunction);
    this.store.grantTaskAccess(this.agentFunction, 'readWrite');
    if (config.modelProvider === 'bedrock') {
      this.agentFunction.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
          // Claude on Bedrock is called through cross-region inference profiles, which route to the model
          // in several regions: both the profiles of this account and the Anthropic foundation models.
          resources: [
            `arn:${Aws.PARTITION}:bedrock:*::foundation-model/anthropic.*`,
            `arn:${Aws.PARTITION}:bedrock:${Aws.REGION}:${Aws.ACCOUNT_ID}:inference-profile/*`,
          ],
        }),
      );
    }

    const agentEnv = { AGENT_FUNCTION_NAME: this.agentAlias.functionArn };

    this.dispatcherFunction = new AgentNodeFunction(this, 'Dispatcher', {
      entry: 'lambdas/dispatcher.ts',
      serviceName: 'deep-agent-dispatcher',
      description: 'deep-agent dispatcher: task queue -> durable agent (execution name = task id)',
      timeout: DISPATCHER_TIMEOUT,
      memorySize: 256,
      logRetention,
      // Bundled: a runtime SDK older than DurableExecutionName would drop it silently and start duplicate runs.
      awsSdk: 'bundled',
      environment: { ...storeEnv, ...queueEnv, ...agentEnv },
    });
    this.dispatcherFunction.addEventSource(
      new SqsEventSource(this.tasks.queue, {
        batchSize: DISPATCH_BATCH_SIZE,
        maxBatchingWindow: Duration.seconds(1),
        reportBatchItemFailures: true,
        maxConcurrency: dispatcherConcurrencyFor(config.maxConcurrentTasks),
      }),
    );
    this.agentAlias.grantInvoke(this.dispatcherFunction);
    this.store.grantTaskAccess(this.dispatcherFunction, 'readWrite');

    this.authorizerFunction = new AgentNodeFunction(this, 'Authorizer', {
      entry: 'lambdas/authorizer.ts',
      serviceName: 'deep-agent-authorizer',
      description: 'deep-agent API authorizer: bearer token -> account id',
      timeout: Duration.seconds(10),
      memorySize: 256,
      logRetention,
      // Only GetSecretValue: every runtime SDK has it.
      awsSdk: 'runtime',
      environment: { API_TOKENS_SECRET_ARN: this.secrets.apiTokens.secretArn },
    });
    this.secrets.apiTokens.grantRead(this.authorizerFunction);

    this.sweeperFunction = new AgentNodeFunction(this, 'Sweeper', {
      entry: 'lambdas/sweeper.ts',
      serviceName: 'deep-agent-sweeper',
      description: 'deep-agent sandbox sweeper: kills E2B sandboxes whose task is finished or unknown',
      timeout: Duration.minutes(5),
      memorySize: 256,
      logRetention,
      // S3 reads and GetSecretValue only: every runtime SDK has them.
      awsSdk: 'runtime',
      environment: { ...storeEnv, SECRET_ARN: this.secrets.tokens.secretArn },
    });
    this.secrets.tokens.grantRead(this.sweeperFunction);
    this.store.grantTaskAccess(this.sweeperFunction, 'read');
    this.sweepSchedule = new events.Rule(this, 'SandboxSweep', {
      description: 'deep-agent: sweep leaked E2B sandboxes',
      schedule: events.Schedule.rate(Duration.minutes(config.sandboxSweepMinutes)),
      targets: [new targets.LambdaFunction(this.sweeperFunction, { retryAttempts: 2, event: events.RuleTargetInput.fromObject({ source: 'schedule' }) })],
    });

    this.keeperFunction = new AgentNodeFunction(this, 'Keeper', {
      entry: 'lambdas/keeper.ts',
      serviceName: 'deep-agent-keeper',
      description: 'deep-agent MCP connection keeper: extends, health-checks, restarts once, kills deleted',
      timeout: Duration.minutes(5),
      memorySize: 512,
      logRetention,
      // KMS is not in every runtime SDK's bundle the way it is here; bundled keeps it the version tested.
      awsSdk: 'bundled',
      environment: { ...storeEnv, ...connectionEnv, SECRET_ARN: this.secrets.tokens.secretArn },
    });
    this.secrets.tokens.grantRead(this.keeperFunction);
    this.store.grantConnectionAccess(this.keeperFunction, 'readWrite');
    this.connectionKey.grantDecrypt(this.keeperFunction);
    this.keeperSchedule = new events.Rule(this, 'ConnectionKeep', {
      description: 'deep-agent: keep MCP connection sandboxes alive and healthy',
      schedule: events.Schedule.rate(Duration.minutes(config.connectionKeeperMinutes)),
      targets: [new targets.LambdaFunction(this.keeperFunction, { retryAttempts: 1, event: events.RuleTargetInput.fromObject({ source: 'schedule' }) })],
    });

    this.apiFunction = new AgentNodeFunction(this, 'ApiHandler', {
      entry: 'lambdas/api.ts',
      serviceName: 'deep-agent-api',
      description: 'deep-agent HTTP API (the Hono app)',
      timeout: Duration.seconds(29),
      memorySize: 512,
      logRetention,
      // Bundled: ListDurableExecutionsByFunction's DurableExecutionName filter must not be dropped by an older SDK.
      awsSdk: 'bundled',
      environment: {
        ...storeEnv,
        ...queueEnv,
        ...agentEnv,
        SWEEPER_FUNCTION_NAME: this.sweeperFunction.functionName,
        DEEP_AGENT_MODEL: config.model,
        SCHEDULE_GROUP_NAME: this.schedules.group.scheduleGroupName,
        SCHEDULER_ROLE_ARN: this.schedules.role.roleArn,
        SCHEDULER_DLQ_ARN: this.tasks.deadLetterQueue.queueArn,
        ...connectionEnv,
        KEEPER_FUNCTION_NAME: this.keeperFunction.functionName,
      },
    });
    // The API seals credentials and can never read them back: GenerateDataKey only, no Decrypt.
    this.apiFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [this.connectionKey.keyArn] }));
    this.store.grantTaskAccess(this.apiFunction, 'readWrite');
    this.store.grantApprovalCleanup(this.apiFunction);
    this.store.grantConnectionAccess(this.apiFunction, 'manage');
    this.tasks.queue.grantSendMessages(this.apiFunction);
    this.schedules.grantManage(this.apiFunction);
    // After a cancel stopped an execution, the API asks the sweeper to kill that task's sandboxes.
    // The unqualified ARN only (grantInvoke would add every version and alias, `:*`).
    this.apiFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.sweeperFunction.functionArn, this.keeperFunction.functionArn] }),
    );
    // Cancel stops the durable execution; approvals complete its callback. Execution ARNs carry the
    // version number the alias resolved to, so the resource is the function's qualified-ARN space.
    this.apiFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          'lambda:GetDurableExecution',
          'lambda:ListDurableExecutionsByFunction',
          'lambda:StopDurableExecution',
          'lambda:SendDurableExecutionCallbackSuccess',
          'lambda:SendDurableExecutionCallbackFailure',
        ],
        resources: [this.agentFunction.functionArn, `${this.agentFunction.functionArn}:*`],
      }),
    );

    this.api = new TaskApi(this, 'HttpApi', { handler: this.apiFunction, authorizer: this.authorizerFunction, logRetention });

    this.alarms = new TaskAlarms(this, 'Alarms', {
      deadLetterQueues: { TaskDeadLetterQueue: this.tasks.deadLetterQueue, AgentFailureQueue: this.agentFailureQueue },
      agentFunction: this.agentFunction,
      functions: { Dispatcher: this.dispatcherFunction, Api: this.apiFunction, Authorizer: this.authorizerFunction, Sweeper: this.sweeperFunction, Keeper: this.keeperFunction },
      api5xx: this.api.httpApi.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }),
      ...(config.alarmEmail ? { alarmEmail: config.alarmEmail } : {}),
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the task API (deep-agent --api URL)' });
    new CfnOutput(this, 'TaskQueueUrl', { value: this.tasks.queue.queueUrl, description: 'SQS queue for task messages' });
    new CfnOutput(this, 'TaskDeadLetterQueueUrl', { value: this.tasks.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'AgentFailureQueueUrl', { value: this.agentFailureQueue.queueUrl });
    new CfnOutput(this, 'TaskBucketName', { value: this.store.bucket.bucketName, description: 'S3 bucket of task records and events' });
    new CfnOutput(this, 'TokensSecretArn', { value: this.secrets.tokens.secretArn, description: 'Anthropic/E2B/GitHub/Notion tokens' });
    new CfnOutput(this, 'ApiTokensSecretArn', { value: this.secrets.apiTokens.secretArn, description: 'API bearer tokens' });
    new CfnOutput(this, 'AgentFunctionAlias', { value: this.agentAlias.functionArn });
    new CfnOutput(this, 'ScheduleGroupName', { value: this.schedules.group.scheduleGroupName });
    new CfnOutput(this, 'SweeperFunctionName', { value: this.sweeperFunction.functionName, description: 'Sandbox sweeper (invoke with {"taskId"} for one task)' });
    new CfnOutput(this, 'KeeperFunctionName', { value: this.keeperFunction.functionName, description: 'MCP connection keeper (invoke with {"accountId","connectionId"} for one)' });
    new CfnOutput(this, 'ConnectionKeyArn', { value: this.connectionKey.keyArn, description: 'KMS key of MCP connection credentials' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn, description: 'SNS topic of every alarm (subscribe here)' });

    suppressStackFindings(this);
  }
}
