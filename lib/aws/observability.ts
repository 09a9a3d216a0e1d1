/**
 * What every Lambda entry point does around its handler: the Lambda context on every log line (Powertools
 * logger), and an X-Ray subsegment per invocation with the cold-start and service annotations (Powertools
 * tracer; AWS SDK clients are traced with `tracer.captureAWSv3Client`). Outside Lambda the tracer is off, so
 * tests and local runs pay nothing.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Tracer } from '@aws-lambda-powertools/tracer';

/** The Lambda context fields read here (a full `Context` fits). */
export interface InvocationContext {
  functionName?: string;
  awsRequestId?: string;
  [key: string]: unknown;
}

export interface Observability {
  logger: Logger;
  tracer: Tracer;
  /** Name of the invocation subsegment. @default '## handler' */
  segmentName?: string;
}

/**
 * Wraps a handler: `logger.addContext(context)`, then the handler inside its own traced subsegment (errors
 * recorded as metadata and rethrown).
 *
 * @example
 * export const handler = instrumentHandler({ logger, tracer }, async (event) => dispatchBatch(event, deps));
 */
export function instrumentHandler<E, R>(
  { logger, tracer, segmentName = '## handler' }: Observability,
  handler: (event: E, context: InvocationContext) => Promise<R>,
): (event: E, context: InvocationContext) => Promise<R> {
  return async (event, context) => {
    if (context && typeof context === 'object') logger.addContext(context as never);
    const parent = tracer.isTracingEnabled() ? tracer.getSegment() : undefined;
    const subsegment = parent?.addNewSubsegment(segmentName);
    if (subsegment) {
      tracer.setSegment(subsegment);
      tracer.annotateColdStart();
      tracer.addServiceNameAnnotation();
    }
    try {
      return await handler(event, context);
    } catch (e) {
      if (subsegment) tracer.addErrorAsMetadata(e as Error);
      throw e;
    } finally {
      if (subsegment && parent) {
        subsegment.close();
        tracer.setSegment(parent);
      }
    }
  };
}
