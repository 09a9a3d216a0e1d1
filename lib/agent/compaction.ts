/**
 * Context compaction: when the conversation grows past `compactAtTokens`, tool results older than the last few
 * turns are replaced by a short note (the whole output stays in the task log), with a `context.compacted` event.
 */
import type { MessageParam } from '../model/index.js';
import type { CountedJournal } from './budgets.js';
import type { ConversationSize } from './context-size.js';
import type { RunContext } from './run-context.js';

const ELIDED = '[elided to save context:';
/** Model turns whose tool results are never elided by compaction. */
const KEEP_RECENT_TURNS = 4;

/**
 * Replaces the content of tool results older than the last few turns with a short note. Deterministic in
 * `messages`, so a replay compacts exactly as the first run did.
 */
function compactToolResults(messages: MessageParam[]): { elided: number; savedChars: number } {
  const userTurns = messages.map((m, i) => (m.role === 'user' ? i : -1)).filter((i) => i > 0);
  const cutoff = userTurns[userTurns.length - KEEP_RECENT_TURNS] ?? 0;
  let elided = 0;
  let savedChars = 0;
  for (let i = 1; i < cutoff; i++) {
    const m = messages[i]!;
    if (m.role !== 'user' || !Array.isArray(m.content)) continue;
    const before = m.content;
    const after = before.map((b) => {
      if (b.type !== 'tool_result') return b;
      if (typeof b.content === 'string' && b.content.startsWith(ELIDED)) return b;
      const size = typeof b.content === 'string' ? b.content.length : JSON.stringify(b.content ?? '').length;
      if (size <= 200) return b;
      elided++;
      savedChars += size;
      return { ...b, content: `${ELIDED} ${size} characters; the whole output is in the task log]` };
    });
    // A new array only where something was elided: the size accounting re-measures a message whose content changed.
    if (after.some((b, j) => b !== before[j])) m.content = after;
  }
  return { elided, savedChars };
}

/**
 * Compacts `messages` in place when they are too large (by `size`, kept as they grow), logging it once as the
 * step `<prefix>compact:<turn>`.
 */
export async function compactIfLarge(run: RunContext, journal: CountedJournal, prefix: string, agent: string, turn: number, messages: MessageParam[], size: ConversationSize): Promise<void> {
  const before = size.tokens();
  if (before <= run.limits.compactAtTokens) return;
  const { elided } = compactToolResults(messages);
  if (elided === 0) return;
  size.recount();
  const after = size.tokens();
  await journal.step(`${prefix}compact:${turn}`, async () => {
    await run.emit('context.compacted', { agent, turn, elidedToolResults: elided, estimatedTokensBefore: before, estimatedTokensAfter: after });
    return true;
  });
}
