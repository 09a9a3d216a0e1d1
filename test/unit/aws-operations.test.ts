/** Small pure pieces of the AWS runtime's operations: throttle detection, sweep targets, concurrency sizing, handler instrumentation. */
import { describe, expect, it } from 'vitest';
import { Logger } from '@aws-lambda-powertools/logger';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { instrumentHandler, isThrottle, sweepTarget } from '../../lib/aws/index.js';
import { dispatcherConcurrencyFor } from '../../lib/infra/index.js';

describe('isThrottle', () => {
  it.each([
    [{ name: 'TooManyRequestsException' }, true],
    [{ name: 'ThrottlingException' }, true],
    [{ name: 'Whatever', $metadata: { httpStatusCode: 429 } }, true],
    [{ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } }, false],
    [new Error('boom'), false],
    [undefined, false],
  ])('%j -> %s', (error, expected) => {
    expect(isThrottle(error)).toBe(expected);
  });
});

describe('sweepTarget', () => {
  it('sweeps one task for { taskId }, everything for the schedule event or anything odd', () => {
    expect(sweepTarget({ taskId: 't-1' })).toEqual({ taskId: 't-1' });
    expect(sweepTarget({ source: 'schedule' })).toBeUndefined();
    expect(sweepTarget({ taskId: '' })).toBeUndefined();
    expect(sweepTarget({ taskId: 42 })).toBeUndefined();
    expect(sweepTarget({ taskId: 'x'.repeat(129) })).toBeUndefined();
    expect(sweepTarget(null)).toBeUndefined();
  });
});

describe('dispatcherConcurrencyFor', () => {
  it('fills every agent slot in one round of 10-message batches, never below the event source minimum of 2', () => {
    expect([1, 20, 21, 100, 1000].map(dispatcherConcurrencyFor)).toEqual([2, 2, 3, 10, 100]);
  });
});

describe('instrumentHandler', () => {
  it('puts the Lambda context on every log line of the invocation and passes results and errors through', async () => {
    // prepare
    const lines: string[] = [];
    const logger = new Logger({ serviceName: 'test-service', logLevel: 'INFO' });
    // Powertools writes through its console; capture what it prints.
    (logger as unknown as { console: { info(s: string): void } }).console = { info: (s: string) => lines.push(s) } as never;
    const tracer = new Tracer({ enabled: false });
    const handler = instrumentHandler({ logger, tracer }, async (event: { fail?: boolean }) => {
      logger.info('working');
      if (event.fail) throw new Error('nope');
      return 'done';
    });
    const context = { functionName: 'fn-under-test', awsRequestId: 'req-123', functionVersion: '1', invokedFunctionArn: 'arn:fn', memoryLimitInMB: '256' };
    // act
    const result = await handler({}, context);
    const failure = await handler({ fail: true }, context).catch((e) => e);
    // assess
    expect(result).toBe('done');
    expect(failure).toBeInstanceOf(Error);
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ message: 'working', function_name: 'fn-under-test', function_request_id: 'req-123' });
  });
});
