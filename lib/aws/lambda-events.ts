/** The few Lambda event shapes the handlers read (kept local: `@types/aws-lambda` is not a dependency). */

export interface SqsRecord {
  messageId: string;
  receiptHandle?: string;
  body: string;
  attributes?: Record<string, string | undefined>;
  messageAttributes?: Record<string, unknown>;
  eventSource?: string;
  eventSourceARN?: string;
  awsRegion?: string;
}

export interface SqsEvent {
  Records: SqsRecord[];
}

/** The answer that makes the event source mapping retry only the failed messages (`ReportBatchItemFailures`). */
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** The agent function's input: the durable execution name is the task id, and the payload is only that id. */
export interface AgentEvent {
  taskId: string;
}
