/** Pieces the durable-journal tests share: pending approvals kept in memory as the S3 store would keep them, and a counting runner. */
import { LocalDurableTestRunner } from '@aws/durable-execution-sdk-js-testing';
import type { PendingApproval } from '../../lib/aws/index.js';

/**
 * @example
 * const approvals = new ApprovalDocs();
 * new DurableJournal(context, { taskId, approvals });
 */
export class ApprovalDocs {
  readonly docs = new Map<string, unknown>();
  async putDocument(key: string, value: unknown) {
    this.docs.set(key, structuredClone(value));
  }
  async getDocument<T>(key: string) {
    return this.docs.get(key) as T | undefined;
  }
  pending(): PendingApproval[] {
    return [...this.docs.values()] as PendingApproval[];
  }
}
/**
 * A `LocalDurableTestRunner` over `durable` that counts handler invocations, so a test can wait until every
 * invocation has ended (the run is suspended) before it decides an approval.
 *
 * @example
 * const { runner, invocations } = countedRunner(withDurableExecution(handler));
 */
export function countedRunner<H extends (event: never, context: never) => Promise<unknown>>(durable: H) {
  const invocations = { started: 0, ended: 0 };
  const counted = (async (event: never, context: never) => {
    invocations.started++;
    try {
      return await durable(event, context);
    } finally {
      invocations.ended++;
    }
  }) as unknown as H;
  return { runner: new LocalDurableTestRunner({ handlerFunction: counted as never }), invocations };
}
