import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from './node-function.js';

/** Props of {@link TaskAlarms}. */
export interface TaskAlarmsProps {
  /** Queues whose messages mean something failed for good (the task DLQ, the agent's failure destination). */
  readonly deadLetterQueues: Record<string, sqs.IQueue>;
  /** The durable agent function: its invocation errors (crashes, timeouts) and sustained throttles. */
  readonly agentFunction: lambda.IFunction;
  /** Short-lived functions whose every error or throttle is worth a look (dispatcher, API, authorizer, sweeper). */
  readonly functions: Record<string, lambda.IFunction>;
  /**
   * The HTTP API's 5xx answers.
   * @default - no API alarm
   */
  readonly api5xx?: cloudwatch.IMetric;
  /**
   * E-mail address subscribed to the alarm topic.
   * @default - none (subscribe to `topic` yourself)
   */
  readonly alarmEmail?: string;
  /**
   * Oldest a dead-lettered message may get before the age alarm fires.
   * @default Duration.hours(24)
   */
  readonly deadLetterMaxAge?: Duration;
}

/**
 * The stack's alarm topic (always created; e-mail optional) and every alarm, each sending to it on ALARM and
 * on OK: dead-letter depth and age, agent invocation errors and sustained throttles, errors and throttles of
 * the other functions, API 5xx, and leaked sandboxes the sweeper had to kill.
 *
 * The agent-error alarm counts invocation failures only (crashes, timeouts, out of memory): a task that
 * fails on purpose (budget, bad input, a denied approval) is recorded on its task and counted by the
 * `TasksFailed` metric, not alarmed.
 *
 * @example
 * new TaskAlarms(this, 'Alarms', { deadLetterQueues: { TaskDlq: dlq }, agentFunction: agent, functions: { Dispatcher: fn }, alarmEmail: 'ops@example.com' });
 */
export class TaskAlarms extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: TaskAlarmsProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'deep-agent alarms', enforceSSL: true });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    const minutes = (n: number) => Duration.minutes(n);

    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      this.add(`${name}Depth`, `messages are waiting in ${name}; inspect and redrive or delete them.`, queue.metricApproximateNumberOfMessagesVisible({ period: minutes(1), statistic: 'Maximum' }), 0);
      const maxAge = props.deadLetterMaxAge ?? Duration.hours(24);
      this.add(
        `${name}Age`,
        `a message has waited in ${name} for over ${maxAge.toHumanString()}; it expires after 14 days.`,
        queue.metricApproximateAgeOfOldestMessage({ period: minutes(5), statistic: 'Maximum' }),
        maxAge.toSeconds(),
      );
    }
    this.add('AgentErrors', 'the durable agent function failed invocations (crash, timeout, out of memory), not tasks that failed on their own.', props.agentFunction.metricErrors({ period: minutes(5), statistic: 'Sum' }), 0);
    // Throttles are how the agent's reserved concurrency holds back work (Lambda retries them); only a long run of them is news.
    this.add('AgentThrottles', 'the agent function has been throttled for 15 minutes: tasks wait for a free slot (maxConcurrentTasks).', props.agentFunction.metricThrottles({ period: minutes(5), statistic: 'Sum' }), 0, 3);
    for (const [name, fn] of Object.entries(props.functions)) {
      this.add(`${name}Errors`, `the ${name} function reported errors.`, fn.metricErrors({ period: minutes(5), statistic: 'Sum' }), 0);
      this.add(`${name}Throttles`, `the ${name} function was throttled.`, fn.metricThrottles({ period: minutes(5), statistic: 'Sum' }), 0);
    }
    if (props.api5xx) this.add('Api5xx', 'the HTTP API answered 5xx.', props.api5xx, 0);
    this.add(
      'SandboxesLeaked',
      'the sweeper killed E2B sandboxes that outlived their task: see its log for the task ids.',
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: 'SandboxesKilled', dimensionsMap: { service: 'deep-agent-sweeper' }, period: Duration.hours(1), statistic: 'Sum' }),
      0,
    );
  }

  private add(id: string, description: string, metric: cloudwatch.IMetric, threshold: number, evaluationPeriods = 1): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmDescription: `deep-agent: ${description}`,
      metric,
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    alarm.addOkAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);
  }
}
