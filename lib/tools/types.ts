/** What a tool is, for the agent loop: a name, a JSON schema, and an async function returning content. */
import * as z from 'zod';
import type { Sandbox } from '../sandbox/index.js';
import type { EventType } from '../task/index.js';
import type { ToolSpec } from '../model/index.js';
import { DeepAgentError, toErrorInfo } from '../errors/index.js';

export type ToolResultContent =
  | { type: 'text'; text: string }
  | { type: 'image'; data: string; mimeType: string };

export interface ToolOutput {
  content: ToolResultContent[];
  isError?: boolean;
  /** MCP structured content, passed through as JSON */
  structuredContent?: unknown;
}

export interface ToolAnnotations {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export interface ToolContext {
  taskId: string;
  /** Lazily created sandbox of the task. */
  sandbox(): Promise<Sandbox>;
  signal: AbortSignal;
  /** Appends an event to the task's log. */
  emit(type: EventType, data: Record<string, unknown>): Promise<void>;
  /** Replaces the task's plan (the `write_todos` tool); provided by the agent loop. */
  setPlan?(plan: { content: string; status: 'pending' | 'in_progress' | 'completed' }[]): Promise<void>;
}

export interface Tool {
  name: string;
  description: string;
  inputSchema: ToolSpec['input_schema'];
  annotations?: ToolAnnotations;
  execute(input: unknown, ctx: ToolContext): Promise<ToolOutput>;
}

/** Text output helper. */
export const textOutput = (text: string, isError = false): ToolOutput => ({ content: [{ type: 'text', text }], ...(isError ? { isError } : {}) });

/**
 * Defines a tool from a zod schema: the schema becomes the JSON schema the model sees and validates input.
 *
 * @example
 * const echo = defineTool({ name: 'echo', description: 'Echo', input: z.object({ text: z.string() }),
 *   run: async ({ text }) => textOutput(text) });
 */
export function defineTool<S extends z.ZodType<Record<string, unknown>>>(def: {
  name: string;
  description: string;
  input: S;
  annotations?: ToolAnnotations;
  run(input: z.infer<S>, ctx: ToolContext): Promise<ToolOutput | string>;
}): Tool {
  const json = z.toJSONSchema(def.input, { target: 'draft-7', io: 'input' }) as Record<string, unknown>;
  delete json.$schema;
  return {
    name: def.name,
    description: def.description,
    inputSchema: { ...json, type: 'object' },
    ...(def.annotations ? { annotations: def.annotations } : {}),
    async execute(input, ctx) {
      const parsed = def.input.safeParse(input ?? {});
      if (!parsed.success) {
        throw new DeepAgentError('invalid_input', `invalid input for ${def.name}: ${z.prettifyError(parsed.error)}`);
      }
      const out = await def.run(parsed.data, ctx);
      return typeof out === 'string' ? textOutput(out) : out;
    },
  };
}

/** Runs a tool and turns any throw into an error result: a failing tool never crashes the task. */
export async function executeSafely(tool: Tool, input: unknown, ctx: ToolContext): Promise<ToolOutput> {
  try {
    return await tool.execute(input, ctx);
  } catch (e) {
    const { code, message } = toErrorInfo(e);
    return textOutput(`${code}: ${message}`, true);
  }
}

/** The model-facing spec of a tool. */
export const toToolSpec = (t: Tool): ToolSpec => ({ name: t.name, description: t.description, input_schema: t.inputSchema });
