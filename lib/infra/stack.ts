import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
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

/**
 * The whole AWS deployment (DESIGN section 2): HTTP API (Lambda authorizer) -> API function -> SQS task
 * queue (DLQ) -> dispatcher -> durable agent function (alias `live`), the S3 task store, the token secrets,
 * EventBridge Scheduler, alarms and outputs.
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
    const queueEnv = { TASK_QUEUE_URL: this.tasks.queue.queueUrl, TASK_QUEUE_ARN: this.tasks.queue.queueArn };

    this.agentFunction = new AgentNodeFunction(this, 'Agent', {
      entry: 'lambdas/agent.ts',
      serviceName: 'deep-agent-agent',
      description: 'deep-agent durable agent: one plan-execute run per task',
      // One invocation is capped at 15 minutes; the durable execution resumes across invocations.
      timeout: Duration.minutes(15),
      memorySize: 1024,
      logRetention,
      // Uses S3, Secrets Manager, Bedrock and (through the durable SDK) the checkpoint APIs, all of which the
      // runtime's SDK has; it never sends an Invoke. The runtime copy keeps the bundle small and cold start short.
      awsSdk: 'runtime',
      durableConfig: {
        executionTimeout: Duration.minutes(config.executionTimeoutMinutes),
        retentionPeriod: Duration.days(config.executionRetentionDays),
      },
      environment: {
        ...storeEnv,
        SECRET_ARN: this.secrets.tokens.secretArn,
        DEEP_AGENT_MODEL: config.model,
        DEEP_AGENT_SANDBOX: config.sandbox,
        // Lambda's only writable directory.
        DEEP_AGENT_HOME: '/tmp/deep-agent',
        // No npx in Lambda: the Notion preset runs in E2B's MCP gateway (GitHub's is a remote HTTP server).
        DEEP_AGENT_NOTION_MCP: 'e2b',
      },
    });
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
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(1),
        reportBatchItemFailures: true,
        maxConcurrency: config.dispatcherMaxConcurrency,
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
        DEEP_AGENT_MODEL: config.model,
        SCHEDULE_GROUP_NAME: this.schedules.group.scheduleGroupName,
        SCHEDULER_ROLE_ARN: this.schedules.role.roleArn,
        SCHEDULER_DLQ_ARN: this.tasks.deadLetterQueue.queueArn,
      },
    });
    this.store.grantTaskAccess(this.apiFunction, 'readWrite');
    this.tasks.queue.grantSendMessages(this.apiFunction);
    this.schedules.grantManage(this.apiFunction);
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
      alarmEmail: config.alarmEmail,
      alarmTopicArn: config.alarmTopicArn,
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

    suppressStackFindings(this);
  }
}
