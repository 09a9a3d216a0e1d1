/**
 * The conversation's size for the compaction decision, without re-serialising the whole conversation each turn:
 * each message's JSON length is measured once and remembered against the message and its content. Compaction
 * replaces a message's content with a new array, so a replaced content is measured again; content arrays are
 * never mutated in place. The figure equals `JSON.stringify(messages).length`, so compaction decides exactly as
 * it did when it stringified everything (a replay compacts at the same turns).
 */
import type { MessageParam } from '../model/index.js';

const measured = new WeakMap<MessageParam, { content: MessageParam['content']; chars: number }>();

function messageChars(m: MessageParam): number {
  const known = measured.get(m);
  if (known && known.content === m.content) return known.chars;
  const chars = JSON.stringify(m).length;
  measured.set(m, { content: m.content, chars });
  return chars;
}

/**
 * Characters of `JSON.stringify(messages)`, measuring only messages not seen before (or whose content changed).
 *
 * @example
 * conversationChars([{ role: 'user', content: 'hi' }]); // 31, as JSON.stringify gives
 */
export function conversationChars(messages: readonly MessageParam[]): number {
  let chars = messages.length > 0 ? messages.length + 1 : 2; // the brackets and the commas between messages
  for (const m of messages) chars += messageChars(m);
  return chars;
}

/**
 * A rough token count (4 characters a token), enough to decide when to compact.
 *
 * @example
 * if (estimateTokens(messages) > limits.compactAtTokens) compactToolResults(messages);
 */
export const estimateTokens = (messages: readonly MessageParam[]): number => Math.ceil(conversationChars(messages) / 4);
