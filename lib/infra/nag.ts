/**
 * The cdk-nag AwsSolutions findings this stack accepts, each with the reason it is acceptable here.
 * cdk-nag 3 runs as a CDK policy-validation plugin; acknowledgments use CDK's `Validations.of(x).acknowledge`
 * with ids of the form `AwsSolutions::<rule>[<finding>]`, one per finding (there is no rule-wide form).
 */
import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import type { AgentSecrets } from './agent-secrets.js';
import type { TaskBucket } from './task-bucket.js';
import type { TaskSchedules } from './task-schedules.js';
import type { TaskApi } from './task-api.js';

/**
 * The parts of the stack whose findings are acknowledged (a `DeepAgentStack` fits). Named here, not
 * imported from stack.ts, so the stack and this file do not import each other.
 */
export interface NaggedStack extends IConstruct {
  readonly store: TaskBucket;
  readonly secrets: Pick<AgentSecrets, 'tokens' | 'apiTokens'>;
  readonly schedules: Pick<TaskSchedules, 'scheduleArnPattern'>;
  readonly agentFunction: lambda.Function;
  readonly dispatcherFunction: lambda.Function;
  readonly apiFunction: lambda.Function;
  readonly authorizerFunction: lambda.Function;
  readonly sweeperFunction: lambda.Function;
  readonly keeperFunction: lambda.Function;
  readonly api: Pick<TaskApi, 'dashboardRoutes'>;
  readonly agentFailureQueue: sqs.Queue;
  readonly config: { readonly modelProvider: 'anthropic' | 'bedrock' };
}

const PACK = 'AwsSolutions';
const BASIC_EXECUTION = 'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';
const BASIC_DURABLE_EXECUTION = 'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicDurableExecutionRolePolicy';

function acknowledge(scope: IConstruct, rule: string, reason: string, finding?: string): void {
  Validations.of(scope).acknowledge({ id: `${PACK}::${PACK}-${rule}${finding ? `[${finding}]` : ''}`, reason });
}

/** How cdk-nag prints `Fn::GetAtt` of a resource in a finding: `<LogicalId.Arn>`. */
function arnToken(scope: IConstruct): string {
  const stack = Stack.of(scope);
  return `<${stack.getLogicalId(scope.node.defaultChild as CfnElement)}.Arn>`;
}

/**
 * Acknowledges the accepted findings of a {@link DeepAgentStack}; called at the end of its constructor.
 *
 * @example
 * suppressStackFindings(this);
 */
export function suppressStackFindings(stack: NaggedStack): void {
  const bucketObjects = (prefix: string) => `Resource::${arnToken(stack.store.bucket)}/${prefix}*`;
  const storeFunctions = [stack.agentFunction, stack.dispatcherFunction, stack.apiFunction];

  for (const fn of [stack.dispatcherFunction, stack.apiFunction, stack.authorizerFunction, stack.sweeperFunction, stack.keeperFunction]) {
    acknowledge(
      fn,
      'IAM4',
      'AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs; it grants no access to the task bucket, queues or secrets.',
      BASIC_EXECUTION,
    );
  }
  acknowledge(
    stack.agentFunction,
    'IAM4',
    'aws-cdk-lib attaches AWSLambdaBasicDurableExecutionRolePolicy to every durable function: log writes plus checkpointing its own durable executions, nothing else.',
    BASIC_DURABLE_EXECUTION,
  );
  for (const route of stack.api.dashboardRoutes) {
    acknowledge(
      route,
      'APIG4',
      'The dashboard\'s static files (index.html, app.js, app.css, favicon) are public so a browser can load the sign-in page; they carry no data, and every API route the page calls stays behind the Lambda authorizer.',
    );
  }
  for (const fn of [...storeFunctions, stack.sweeperFunction]) {
    acknowledge(
      fn,
      'IAM5',
      'Task records and events live under tasks/<taskId>/ with ids minted at run time, so object access is scoped to the tasks/ prefix of the one task bucket.',
      bucketObjects('tasks/'),
    );
    acknowledge(
      fn,
      'IAM5',
      'Idempotency entries are keyed idempotency/<accountId>/<sha256>.json at run time, so object access is scoped to the idempotency/ prefix of the one task bucket.',
      bucketObjects('idempotency/'),
    );
    acknowledge(
      fn,
      'IAM5',
      'The task list index is keyed index/<accountId>/<time>-<taskId> at run time, so object access is scoped to the index/ prefix of the one task bucket.',
      bucketObjects('index/'),
    );
  }
  for (const fn of [stack.agentFunction, stack.apiFunction, stack.keeperFunction]) {
    acknowledge(
      fn,
      'IAM5',
      'MCP connection records, sealed credentials and name claims are keyed connections/<accountId>/<kind>/<id> at run time, so object access is scoped to the connections/ prefix of the one bucket (credentials in it are KMS-envelope-encrypted).',
      bucketObjects('connections/'),
    );
  }
  acknowledge(
    stack.apiFunction,
    'IAM5',
    'POST/DELETE /schedules create and delete schedules named at run time; access is limited to schedules inside the stack\'s own schedule group.',
    `Resource::${stack.schedules.scheduleArnPattern()}`,
  );
  acknowledge(
    stack.apiFunction,
    'IAM5',
    'A decided approval\'s pending document is deleted; approval ids are minted at run time, so delete is scoped to tasks/<taskId>/approvals/ of the one task bucket and nothing else.',
    bucketObjects('tasks/*/approvals/'),
  );
  acknowledge(
    stack.apiFunction,
    'IAM5',
    'scheduler:ListSchedules (GET /schedules) supports no resource-level permission; the API filters by its own group name.',
    'Resource::*',
  );
  acknowledge(
    stack.apiFunction,
    'IAM5',
    'Cancel and approval callbacks address durable executions whose ARNs carry the version the live alias resolved to and the task id, so the resource is the agent function\'s own qualified-ARN space.',
    `Resource::${arnToken(stack.agentFunction)}:*`,
  );
  for (const fn of [stack.agentFunction, stack.dispatcherFunction, stack.apiFunction, stack.authorizerFunction, stack.sweeperFunction, stack.keeperFunction]) {
    acknowledge(
      fn,
      'IAM5',
      'X-Ray active tracing: xray:PutTraceSegments and PutTelemetryRecords support no resource-level permission (AWS documents Resource "*").',
      'Resource::*',
    );
  }
  if (stack.config.modelProvider === 'bedrock') {
    acknowledge(
      stack.agentFunction,
      'IAM5',
      'Claude on Bedrock is reached through cross-region inference profiles that route to the Anthropic models in several regions; access is limited to InvokeModel* on anthropic.* foundation models.',
      'Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/anthropic.*',
    );
    acknowledge(
      stack.agentFunction,
      'IAM5',
      'The model id (an inference profile) is a deployment setting; access is limited to InvokeModel* on this account\'s inference profiles in this region.',
      'Resource::arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:inference-profile/*',
    );
  }
  for (const secret of [stack.secrets.tokens, stack.secrets.apiTokens] as secretsmanager.Secret[]) {
    acknowledge(
      secret,
      'SMG4',
      'The secret holds third-party API tokens (Anthropic, E2B, GitHub, Notion) or hashed bearer tokens that only their issuers can rotate; the operator replaces them with put-secret-value.',
    );
  }
  acknowledge(
    stack.agentFailureQueue,
    'SQS3',
    'This queue is itself the terminal on-failure destination of the agent function (Lambda invocation records); nothing consumes it automatically, so it needs no DLQ of its own; its depth is alarmed.',
  );
}
