/**
 * Tool calls and what comes back from them: one call is one journal step that logs `tool.called` and
 * `tool.result`, and its output becomes the model's `tool_result`, truncated for the model and for the log.
 */
import { executeSafely, type Tool, type ToolContext, type ToolOutput } from '../tools/index.js';
import type { CountedJournal } from './budgets.js';
import type { RunContext } from './run-context.js';

/** One tool call's result as the model will see it in the next request. */
export interface ToolStepResult {
  tool_use_id: string;
  content: string | Array<{ type: 'text'; text: string } | { type: 'image'; source: { type: 'base64'; media_type: string; data: string } }>;
  is_error?: boolean;
}

export interface ToolUse {
  id: string;
  name: string;
  input: unknown;
}

/** Characters of one tool output kept in the task log. */
const LOG_OUTPUT_CHARS = 256_000;
/** Characters of one tool input (its JSON) kept in events: a checkpointed event stays well under 256 KB. */
export const LOG_INPUT_CHARS = 16_000;

export function truncate(text: string, max: number, note: string): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n[truncated: ${text.length - max} more characters${note}]`;
}

/** A tool input as events carry it: as it is, or, when its JSON is long, a truncated preview of that JSON. */
export function inputForLog(input: unknown): unknown {
  const json = JSON.stringify(input ?? null);
  if (json.length <= LOG_INPUT_CHARS) return input;
  return { truncated: true, characters: json.length, preview: json.slice(0, LOG_INPUT_CHARS) };
}

function outputText(out: ToolOutput): string {
  const texts = out.content.map((c) => (c.type === 'text' ? c.text : `[image ${c.mimeType}]`));
  if (out.structuredContent !== undefined && !out.content.some((c) => c.type === 'text')) texts.push(JSON.stringify(out.structuredContent));
  return texts.join('\n');
}

/** Converts a tool output into the model's `tool_result`, truncating text. */
function toToolResult(id: string, out: ToolOutput, maxChars: number): ToolStepResult {
  const hasImage = out.content.some((c) => c.type === 'image');
  const base = { tool_use_id: id, ...(out.isError ? { is_error: true } : {}) };
  if (!hasImage) return { ...base, content: truncate(outputText(out), maxChars, '; the whole output is in the task log') || '(no output)' };
  return {
    ...base,
    content: out.content.map((c) =>
      c.type === 'text'
        ? { type: 'text' as const, text: truncate(c.text, maxChars, '') }
        : { type: 'image' as const, source: { type: 'base64' as const, media_type: c.mimeType, data: c.data } },
    ),
  };
}

/** The `tool_result` block the model sees. */
export const toolResultBlock = (result: ToolStepResult) => ({ type: 'tool_result' as const, ...result });

/** An error result the model reads instead of a tool's output. */
export const errorResult = (use: ToolUse, content: string): ToolStepResult => ({ tool_use_id: use.id, is_error: true, content });

/** Runs one tool call as the step `<prefix>tool:<id>`. */
export function runToolStep(run: RunContext, journal: CountedJournal, prefix: string, use: ToolUse, tool: Tool | undefined, ctx: ToolContext): Promise<ToolStepResult> {
  return journal.step(`${prefix}tool:${use.id}`, async () => {
    const t0 = Date.now();
    await run.emit('tool.called', { id: use.id, name: use.name, input: inputForLog(use.input) });
    const out: ToolOutput = tool ? await executeSafely(tool, use.input, ctx) : { content: [{ type: 'text', text: `unknown tool: ${use.name}` }], isError: true };
    const durationMs = Date.now() - t0;
    await run.emit('tool.result', {
      id: use.id,
      name: use.name,
      ok: !out.isError,
      durationMs,
      output: truncate(outputText(out), LOG_OUTPUT_CHARS, ' in the log'),
      ...(out.structuredContent !== undefined ? { structuredContent: out.structuredContent } : {}),
    });
    return toToolResult(use.id, out, run.limits.maxToolOutputChars);
  });
}
