/**
 * Prints the skipped tests (their titles say why) and one plain closing line, `tests: N passed, N failed,
 * N skipped`, after vitest's own report, so any CI reading the log sees the counts in a fixed shape.
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    const skipped: string[] = [];
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped.push(t.fullName);
      }
      if (m.state() === 'failed' && [...m.children.allTests()].length === 0) failed++;
    }
    failed += unhandledErrors.length;
    // A skipped test says why in its title (a missing credential for a cloud contract suite): show them.
    for (const name of skipped) process.stdout.write(`skipped: ${name}\n`);
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped.length} skipped\n`);
  }
}
