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
 * The size of one growing conversation, kept as it grows: each call measures only the messages appended since
 * the last one, so the per-turn cost does not grow with the conversation. Whoever replaces the content of a
 * message already counted (compaction) calls `recount()`; the figure then equals `conversationChars` again.
 *
 * @example
 * const size = new ConversationSize(messages);
 * messages.push(reply);
 * if (size.tokens() > limits.compactAtTokens) compact();
 */
export class ConversationSize {
  private counted = 0;
  private chars = 0;
  constructor(private readonly messages: readonly MessageParam[]) {}

  /** Estimated tokens (4 characters a token) of `JSON.stringify(messages)`. */
  tokens(): number {
    const { messages } = this;
    if (this.counted > messages.length) this.recount();
    for (; this.counted < messages.length; this.counted++) this.chars += messageChars(messages[this.counted]!);
    const punctuation = messages.length > 0 ? messages.length + 1 : 2;
    return Math.ceil((this.chars + punctuation) / 4);
  }

  /** Counts every message again on the next call (only those whose content was replaced are re-measured). */
  recount(): void {
    this.counted = 0;
    this.chars = 0;
  }
}

/**
 * A rough token count (4 characters a token), enough to decide when to compact.
 *
 * @example
 * if (estimateTokens(messages) > limits.compactAtTokens) compactToolResults(messages);
 */
export const estimateTokens = (messages: readonly MessageParam[]): number => Math.ceil(conversationChars(messages) / 4);
