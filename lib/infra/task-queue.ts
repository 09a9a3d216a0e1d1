import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** Props of {@link TaskQueue}. */
export interface TaskQueueProps {
  /** Timeout of the function that consumes the queue; the visibility timeout is six times this. */
  readonly consumerTimeout: Duration;
  /**
   * Deliveries before a message moves to the dead-letter queue (at least 3).
   * @default 3
   */
  readonly maxReceiveCount?: number;
}

/** Every queue here: SQS-managed encryption (no KMS key to grant), TLS-only access, 14 days of retention. */
function secureQueueProps(): sqs.QueueProps {
  return { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) };
}

/**
 * The task queue with its dead-letter queue. The visibility timeout is six times the consumer's timeout, as
 * Lambda recommends for SQS event sources, so a slow batch is never delivered twice while still running.
 *
 * @example
 * const tasks = new TaskQueue(this, 'Tasks', { consumerTimeout: Duration.seconds(30), maxReceiveCount: 3 });
 */
export class TaskQueue extends Construct {
  /** The queue producers (API, schedules, any SQS producer) send task messages to. */
  readonly queue: sqs.Queue;
  /** Messages that failed `maxReceiveCount` times, and schedule deliveries that failed all retries. */
  readonly deadLetterQueue: sqs.Queue;
  readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, props: TaskQueueProps) {
    super(scope, id);
    this.maxReceiveCount = props.maxReceiveCount ?? 3;
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', secureQueueProps());
    this.queue = new sqs.Queue(this, 'Queue', {
      ...secureQueueProps(),
      retentionPeriod: Duration.days(4),
      visibilityTimeout: Duration.seconds(props.consumerTimeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
    });
  }
}

/**
 * A terminal queue (a dead-letter store nobody consumes automatically), e.g. the agent's on-failure
 * destination: encrypted, TLS-only, 14 days of retention.
 *
 * @example
 * const failures = newTerminalQueue(this, 'AgentFailures');
 */
export function newTerminalQueue(scope: Construct, id: string): sqs.Queue {
  return new sqs.Queue(scope, id, secureQueueProps());
}
