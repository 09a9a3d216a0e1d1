import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** Props of {@link TaskAlarms}. */
export interface TaskAlarmsProps {
  /** Queues whose depth must stay at zero (the DLQ, the agent's failure destination). */
  readonly deadLetterQueues: Record<string, sqs.IQueue>;
  /** The agent function (its errors alarm). */
  readonly agentFunction: lambda.IFunction;
  /**
   * E-mail address subscribed to a new alarm topic.
   * @default - none
   */
  readonly alarmEmail?: string;
  /**
   * Existing SNS topic for the alarms.
   * @default - a new topic when alarmEmail is set, otherwise no alarm actions
   */
  readonly alarmTopicArn?: string;
}

/**
 * Alarms on dead-letter depth (any visible message) and on agent errors, sent to an optional SNS topic.
 *
 * @example
 * new TaskAlarms(this, 'Alarms', { deadLetterQueues: { TaskDlq: dlq }, agentFunction: agent, alarmEmail: 'ops@example.com' });
 */
export class TaskAlarms extends Construct {
  readonly topic?: sns.ITopic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: TaskAlarmsProps) {
    super(scope, id);
    if (props.alarmTopicArn) {
      this.topic = sns.Topic.fromTopicArn(this, 'Topic', props.alarmTopicArn);
    } else if (props.alarmEmail) {
      const topic = new sns.Topic(this, 'Topic', { displayName: 'deep-agent alarms', enforceSSL: true });
      topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
      this.topic = topic;
    }
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      this.add(
        new cloudwatch.Alarm(this, `${name}Depth`, {
          alarmDescription: `deep-agent: messages are waiting in ${name}; inspect and redrive or delete them.`,
          metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    this.add(
      new cloudwatch.Alarm(this, 'AgentErrors', {
        alarmDescription: 'deep-agent: the durable agent function reported invocation errors.',
        metric: props.agentFunction.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  private add(alarm: cloudwatch.Alarm): void {
    if (this.topic) {
      alarm.addAlarmAction(new actions.SnsAction(this.topic));
      alarm.addOkAction(new actions.SnsAction(this.topic));
    }
    this.alarms.push(alarm);
  }
}
