/**
 * Live progress: the plan with statuses, the model's text between tools, each tool call with its duration
 * (and with `verbose` the first lines of its output), tokens and cost at the end. On a terminal it adds colour
 * (unless NO_COLOR) and an elapsed timer on the last line while the model or a tool runs; piped, it writes
 * plain lines only, so logs and scripts see no escape codes.
 */
import type { Writable } from 'node:stream';
import { typedEvent, type PlanItem, type TaskEvent, type TaskRecord } from '../task/index.js';
import type { CliSettings } from '../config/index.js';

const MARK: Record<PlanItem['status'], string> = { pending: '[ ]', in_progress: '[>]', completed: '[x]' };
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const VERBOSE_LINES = 6;

function oneLine(value: unknown, max = 100): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  const flat = (s ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function describeInput(name: string, input: unknown): string {
  if (!input || typeof input !== 'object') return '';
  const i = input as Record<string, unknown>;
  if (name === 'run_command') return oneLine(i.command);
  if ('path' in i) return oneLine(i.path);
  if (name === 'task') return oneLine(i.description);
  if (name === 'write_todos') return '';
  return oneLine(input, 80);
}

export interface ProgressOptions {
  /** A terminal: the elapsed timer line. @default false */
  tty?: boolean;
  /** ANSI colours. @default false */
  color?: boolean;
  /** The first lines of each tool's output. @default false */
  verbose?: boolean;
  /** Someone is asked at this terminal, and the prompt shows the reason: print no approval line. @default false */
  approvalsAsked?: boolean;
  /** @default Date.now */
  now?(): number;
}

/**
 * Terminal features for a stream: the timer only on a TTY, colour only on a TTY and without NO_COLOR.
 *
 * @example
 * const progress = new ProgressPrinter(io.stderr, terminalOptions(io.stderr, config.cli));
 */
export function terminalOptions(stream: { isTTY?: boolean }, cli: Pick<CliSettings, 'noColor' | 'term'>): Pick<ProgressOptions, 'tty' | 'color'> {
  const tty = stream.isTTY === true && cli.term !== 'dumb';
  return { tty, color: tty && !cli.noColor };
}

type Paint = (s: string) => string;
const ansi = (open: number, close: number): Paint => (s) => `\x1b[${open}m${s}\x1b[${close}m`;

/**
 * Renders task events as human-readable lines.
 *
 * @example
 * const progress = new ProgressPrinter(process.stderr, terminalOptions(process.stderr, config.cli));
 * store = observeEvents(store, (e) => progress.onEvent(e));
 * progress.summary(record);
 */
export class ProgressPrinter {
  private readonly running = new Map<string, { name: string; since: number }>();
  private thinkingSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private statusShown = false;
  private frame = 0;
  private paused = false;
  private readonly now: () => number;
  private readonly c: { dim: Paint; bold: Paint; green: Paint; red: Paint; yellow: Paint; cyan: Paint; magenta: Paint };

  constructor(
    private readonly out: Writable,
    private readonly options: ProgressOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    const plain: Paint = (s) => s;
    this.c = options.color
      ? { dim: ansi(2, 22), bold: ansi(1, 22), green: ansi(32, 39), red: ansi(31, 39), yellow: ansi(33, 39), cyan: ansi(36, 39), magenta: ansi(35, 39) }
      : { dim: plain, bold: plain, green: plain, red: plain, yellow: plain, cyan: plain, magenta: plain };
  }

  private line(s: string) {
    this.clearStatus();
    this.out.write(`${s}\n`);
    this.drawStatus();
  }

  onEvent(event: TaskEvent): void {
    const e = typedEvent(event);
    if (!e) return;
    const { c } = this;
    switch (e.type) {
      case 'task.started':
        this.line(c.bold(`task ${e.taskId} started (${e.data.provider} ${e.data.model}, sandbox ${e.data.sandbox})`));
        this.startThinking();
        break;
      case 'plan.updated':
        this.line('plan:');
        for (const item of e.data.plan) {
          const mark = item.status === 'completed' ? c.green(MARK[item.status]) : item.status === 'in_progress' ? c.cyan(MARK[item.status]) : c.dim(MARK[item.status]);
          this.line(`  ${mark} ${item.status === 'completed' ? c.dim(item.content) : item.content}`);
        }
        break;
      case 'model.response': {
        this.thinkingSince = undefined;
        const text = e.data.text?.trim();
        if (text) {
          const indent = e.data.agent === 'main' ? '' : '    ';
          for (const l of text.split('\n')) this.line(`${indent}${c.magenta(l)}`);
        }
        break;
      }
      case 'tool.called':
        this.running.set(e.data.id, { name: e.data.name, since: this.now() });
        this.line(`  → ${c.cyan(e.data.name)} ${describeInput(e.data.name, e.data.input)}`.trimEnd());
        this.ensureTimer();
        break;
      case 'tool.result': {
        this.running.delete(e.data.id);
        const head = `  ${e.data.ok ? c.green('✓') : c.red('✗')} ${e.data.name} ${c.dim(`(${e.data.durationMs} ms)`)}`;
        this.line(`${head}${e.data.ok ? '' : `: ${c.red(oneLine(e.data.output, 120))}`}`);
        if (this.options.verbose && e.data.output) {
          const lines = e.data.output.replace(/\s+$/, '').split('\n');
          for (const l of lines.slice(0, VERBOSE_LINES)) this.line(c.dim(`      ${l.length > 160 ? `${l.slice(0, 159)}…` : l}`));
          if (lines.length > VERBOSE_LINES) this.line(c.dim(`      … ${lines.length - VERBOSE_LINES} more lines`));
        }
        // The model runs again once every call of its turn has answered.
        if (this.running.size === 0) this.startThinking();
        break;
      }
      case 'task.retrying':
        this.line(c.yellow(`  ! ${e.data.status ?? 'connection'} from the model, retry ${e.data.attempt} in ${((e.data.delayMs ?? 0) / 1000).toFixed(1)} s`));
        break;
      case 'approval.requested':
        this.thinkingSince = undefined;
        if (!this.options.approvalsAsked) {
          this.line(c.yellow(`  ? ${e.data.tool} needs approval: ${e.data.reason} (approval ${e.data.approvalId}; deep-agent approve ${e.taskId} ${e.data.approvalId})`));
        }
        break;
      case 'approval.resolved':
        this.line(`  ${e.data.approve ? c.green('approved') : c.red('denied')}: ${e.data.tool}`);
        break;
      case 'subagent.started':
        this.line(`  ⤷ sub-agent: ${e.data.description}`);
        this.startThinking();
        break;
      case 'subagent.finished':
        this.line(`  ⤶ sub-agent ${e.data.ok ? c.green('finished') : c.red('failed')}`);
        if (this.running.size === 0) this.startThinking(); // the main agent reads its answer
        break;
      case 'context.compacted':
        this.line(c.dim('  (context compacted)'));
        break;
      case 'task.succeeded':
      case 'task.failed':
      case 'task.cancelled':
        this.stop();
        break;
      default:
        break;
    }
  }

  /** Clears the timer line and holds it (while a prompt asks at the terminal). */
  pause(): void {
    this.paused = true;
    this.clearStatus();
  }

  resume(): void {
    this.paused = false;
    this.drawStatus();
  }

  /** Stops the timer for good (the task ended). */
  stop(): void {
    this.thinkingSince = undefined;
    this.running.clear();
    this.clearStatus();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  summary(record: TaskRecord): void {
    this.stop();
    const u = record.usage;
    const secs = record.startedAt && record.finishedAt ? ((Date.parse(record.finishedAt) - Date.parse(record.startedAt)) / 1000).toFixed(1) : '?';
    const status = record.status === 'succeeded' ? this.c.green(record.status) : this.c.red(record.status);
    this.line(
      `${status}: ${record.steps} steps in ${secs} s · tokens in ${u.inputTokens} (cache read ${u.cacheReadTokens}, write ${u.cacheWriteTokens}), out ${u.outputTokens} · cost $${u.costUsd.toFixed(4)}`,
    );
    if (record.error) this.line(this.c.red(`error (${record.error.code}): ${record.error.message}`));
  }

  private startThinking() {
    this.thinkingSince = this.now();
    this.ensureTimer();
  }

  private ensureTimer() {
    if (!this.options.tty || this.timer) return;
    this.timer = setInterval(() => {
      this.frame++;
      this.clearStatus();
      this.drawStatus();
    }, 100);
    this.timer.unref();
  }

  /** The one status line: what runs now and for how long. */
  private status(): string | undefined {
    const oldest = [...this.running.values()].sort((a, b) => a.since - b.since)[0];
    const since = oldest?.since ?? this.thinkingSince;
    if (since === undefined) return undefined;
    const what = oldest ? `running ${oldest.name}${this.running.size > 1 ? ` (+${this.running.size - 1})` : ''}` : 'model thinking';
    return this.c.dim(`${SPINNER[this.frame % SPINNER.length]} ${what} · ${((this.now() - since) / 1000).toFixed(1)} s`);
  }

  private drawStatus() {
    if (!this.options.tty || this.paused) return;
    const s = this.status();
    if (!s) return;
    this.out.write(s);
    this.statusShown = true;
  }

  private clearStatus() {
    if (!this.statusShown) return;
    this.out.write('\r\x1b[2K');
    this.statusShown = false;
  }
}

/**
 * `serve`'s log: one line per task received, started, waiting for approval and finished (status, steps, cost).
 *
 * @example
 * startLocalService({ ...options, onEvent: serveTaskLog(process.stderr) });
 */
export function serveTaskLog(out: Writable, now: () => Date = () => new Date()): (event: TaskEvent) => void {
  return (event) => {
    const e = typedEvent(event);
    if (!e) return;
    const at = now().toISOString().slice(11, 19);
    const say = (what: string) => out.write(`deep-agent serve: ${at} task ${e.taskId} ${what}\n`);
    switch (e.type) {
      case 'task.queued':
        return say(`received (${e.data.source ?? 'http'})`);
      case 'task.started':
        return say(`started (${e.data.model ?? 'model'}, sandbox ${e.data.sandbox ?? '?'})`);
      case 'approval.requested':
        return say(`waiting for approval of ${e.data.tool} (approval ${e.data.approvalId})`);
      case 'task.succeeded':
      case 'task.failed':
      case 'task.cancelled': {
        const status = e.type.slice('task.'.length);
        const cost = e.data.usage?.costUsd ?? 0;
        const error = e.data.error ? `: ${e.data.error.code}: ${oneLine(e.data.error.message, 120)}` : '';
        return say(`${status}, ${e.data.steps ?? 0} steps, $${cost.toFixed(4)}${error}`);
      }
      default:
        return;
    }
  };
}
