/** Live progress on stderr: the plan with statuses, each tool call with its duration, tokens and cost at the end. */
import type { Writable } from 'node:stream';
import type { PlanItem, TaskEvent, TaskRecord } from '../task/index.js';

const MARK: Record<PlanItem['status'], string> = { pending: '[ ]', in_progress: '[>]', completed: '[x]' };

function oneLine(value: unknown, max = 100): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  const flat = (s ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function describeInput(name: string, input: Record<string, unknown> | undefined): string {
  if (!input) return '';
  if (name === 'run_command') return oneLine(input.command);
  if ('path' in input) return oneLine(input.path);
  if (name === 'task') return oneLine(input.description);
  if (name === 'write_todos') return '';
  return oneLine(input, 80);
}

/**
 * Renders task events as human-readable lines.
 *
 * @example
 * const progress = new ProgressPrinter(process.stderr);
 * store = observeEvents(store, (e) => progress.onEvent(e));
 */
export class ProgressPrinter {
  private readonly calls = new Map<string, string>();
  constructor(private readonly out: Writable) {}

  private line(s: string) {
    this.out.write(`${s}\n`);
  }

  onEvent(e: TaskEvent): void {
    const d = e.data as Record<string, any>;
    switch (e.type) {
      case 'task.started':
        this.line(`task ${e.taskId} started (${d.provider} ${d.model}, sandbox ${d.sandbox})`);
        break;
      case 'plan.updated':
        this.line('plan:');
        for (const item of d.plan as PlanItem[]) this.line(`  ${MARK[item.status]} ${item.content}`);
        break;
      case 'tool.called':
        this.calls.set(d.id, d.name);
        this.line(`  → ${d.name} ${describeInput(d.name, d.input)}`.trimEnd());
        break;
      case 'tool.result':
        this.line(`  ${d.ok ? '✓' : '✗'} ${d.name} (${d.durationMs} ms)${d.ok ? '' : `: ${oneLine(d.output, 120)}`}`);
        break;
      case 'task.retrying':
        this.line(`  ! ${d.status ?? 'connection'} from the model, retry ${d.attempt} in ${(d.delayMs / 1000).toFixed(1)} s`);
        break;
      case 'approval.requested':
        this.line(`  ? ${d.tool} needs approval: ${d.reason} (approval ${d.approvalId}; deep-agent approve ${e.taskId} ${d.approvalId})`);
        break;
      case 'approval.resolved':
        this.line(`  ${d.approve ? 'approved' : 'denied'}: ${d.tool}`);
        break;
      case 'subagent.started':
        this.line(`  ⤷ sub-agent: ${d.description}`);
        break;
      case 'subagent.finished':
        this.line(`  ⤶ sub-agent ${d.ok ? 'finished' : 'failed'}`);
        break;
      case 'context.compacted':
        this.line(`  (context compacted)`);
        break;
      default:
        break;
    }
  }

  summary(record: TaskRecord): void {
    const u = record.usage;
    const secs = record.startedAt && record.finishedAt ? ((Date.parse(record.finishedAt) - Date.parse(record.startedAt)) / 1000).toFixed(1) : '?';
    this.line(
      `${record.status}: ${record.steps} steps in ${secs} s · tokens in ${u.inputTokens} (cache read ${u.cacheReadTokens}, write ${u.cacheWriteTokens}), out ${u.outputTokens} · cost $${u.costUsd.toFixed(4)}`,
    );
    if (record.error) this.line(`error (${record.error.code}): ${record.error.message}`);
  }
}
