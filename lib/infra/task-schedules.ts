import { Aws, Duration, Stack, TimeZone } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import { SqsSendMessage } from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SCHEDULE_RETRY, scheduleIdempotencyKey } from '../aws/index.js';
import type { StaticScheduleConfig } from './config.js';

/** Props of {@link TaskSchedules}. */
export interface TaskSchedulesProps {
  /** Where each run's task message goes. */
  readonly queue: sqs.IQueue;
  /** Where a message goes when every delivery attempt failed. */
  readonly deadLetterQueue: sqs.IQueue;
  /**
   * Schedules created at deploy time.
   * @default []
   */
  readonly schedules?: StaticScheduleConfig[];
  /**
   * Delivery attempts after the first failure (0..185).
   * @default 5
   */
  readonly retryAttempts?: number;
  /**
   * Oldest a run may get while being retried (1 minute .. 24 hours).
   * @default Duration.hours(1)
   */
  readonly maxEventAge?: Duration;
}

/** Retry policy every schedule of this stack uses (lib/aws's, which dynamic schedules use too). */
export { SCHEDULE_RETRY };

/**
 * The schedule group, the role EventBridge Scheduler assumes (allowed only `sqs:SendMessage` on the task
 * queue and its DLQ), and the static schedules. Dynamic schedules (`/schedules`) are created by the API in
 * the same group with the same role and DLQ.
 *
 * Each run sends `{ prompt, source: "schedule", idempotencyKey, accountId?, budget?, mcpServers? }`; the
 * idempotency key carries the scheduler's execution id, so a redelivered run never becomes two tasks.
 *
 * @example
 * const schedules = new TaskSchedules(this, 'Schedules', { queue, deadLetterQueue, schedules: config.schedules });
 */
export class TaskSchedules extends Construct {
  readonly group: scheduler.ScheduleGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: TaskSchedulesProps) {
    super(scope, id);
    this.group = new scheduler.ScheduleGroup(this, 'Group', {});
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.group.env.account } },
      }),
      description: 'EventBridge Scheduler: send deep-agent task messages to the task queue',
    });
    for (const s of props.schedules ?? []) {
      const message = {
        prompt: s.prompt,
        source: 'schedule',
        idempotencyKey: scheduleIdempotencyKey(s.name),
        ...(s.accountId ? { accountId: s.accountId } : {}),
        ...(s.budget ? { budget: s.budget } : {}),
        ...(s.mcpServers ? { mcpServers: s.mcpServers } : {}),
      };
      new scheduler.Schedule(this, `Schedule-${s.name}`, {
        scheduleGroup: this.group,
        description: `deep-agent static schedule ${s.name}`,
        schedule: scheduler.ScheduleExpression.expression(s.expression, TimeZone.of(s.timezone ?? 'UTC')),
        target: new SqsSendMessage(props.queue, {
          role: this.role,
          input: scheduler.ScheduleTargetInput.fromObject(message),
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts: props.retryAttempts ?? SCHEDULE_RETRY.maximumRetryAttempts,
          maxEventAge: props.maxEventAge ?? Duration.seconds(SCHEDULE_RETRY.maximumEventAgeInSeconds),
        }),
      });
    }
    // Dynamic schedules reuse this role, so it must be able to reach the queue and DLQ without a static one.
    props.queue.grant(this.role, 'sqs:SendMessage');
    props.deadLetterQueue.grant(this.role, 'sqs:SendMessage');
  }

  /** The schedules-in-this-group ARN pattern as cdk-nag prints it in a finding. */
  scheduleArnPattern(): string {
    return `arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${Stack.of(this).resolve(this.group.scheduleGroupName)}/*`;
  }

  /**
   * Lets a function manage schedules in this group only, and pass the scheduler role (to the scheduler only).
   *
   * @example
   * schedules.grantManage(apiFunction);
   */
  grantManage(grantee: iam.IGrantable): void {
    const schedulesInGroup = `arn:${Aws.PARTITION}:scheduler:${Aws.REGION}:${Aws.ACCOUNT_ID}:schedule/${this.group.scheduleGroupName}/*`;
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule', 'scheduler:GetSchedule'],
      resourceArns: [schedulesInGroup],
    });
    iam.Grant.addToPrincipal({ grantee, actions: ['scheduler:ListSchedules'], resourceArns: ['*'] });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['iam:PassRole'],
      resourceArns: [this.role.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    });
  }
}
