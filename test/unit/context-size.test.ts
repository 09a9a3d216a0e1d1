import { describe, expect, it } from 'vitest';
import { ConversationSize, conversationChars, estimateTokens } from '../../lib/agent/context-size.js';
import type { MessageParam } from '../../lib/model/types.js';

const toolTurn = (i: number): MessageParam[] => [
  { role: 'assistant', content: [{ type: 'tool_use', id: `toolu_${i}`, name: 'run_command', input: { command: `echo "step ${i}"` } }] as any },
  { role: 'user', content: [{ type: 'tool_result', tool_use_id: `toolu_${i}`, content: `output ${i} with "quotes" and ünïcode\n`.repeat(i) }] as any },
];

describe('conversation size', () => {
  it('equals JSON.stringify of the whole conversation as it grows', () => {
    const messages: MessageParam[] = [];
    expect(conversationChars(messages)).toBe(JSON.stringify(messages).length);
    messages.push({ role: 'user', content: 'the task' });
    for (let i = 1; i <= 30; i++) {
      messages.push(...toolTurn(i));
      expect(conversationChars(messages)).toBe(JSON.stringify(messages).length);
    }
    expect(estimateTokens(messages)).toBe(Math.ceil(JSON.stringify(messages).length / 4));
  });

  it('measures a message again when compaction replaces its content', () => {
    const messages: MessageParam[] = [{ role: 'user', content: 'the task' }, ...toolTurn(20)];
    const before = conversationChars(messages);
    messages[2]!.content = [{ type: 'tool_result', tool_use_id: 'toolu_20', content: '[elided]' }] as any;
    const after = conversationChars(messages);
    expect(after).toBe(JSON.stringify(messages).length);
    expect(after).toBeLessThan(before);
  });

  it('keeps the size of a growing conversation as estimateTokens gives it, and again after a recount', () => {
    const messages: MessageParam[] = [{ role: 'user', content: 'the task' }];
    const size = new ConversationSize(messages);
    for (let i = 1; i <= 30; i++) {
      messages.push(...toolTurn(i));
      expect(size.tokens()).toBe(estimateTokens(messages));
    }
    messages[2]!.content = [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '[elided]' }] as any;
    messages[4]!.content = [{ type: 'tool_result', tool_use_id: 'toolu_2', content: '[elided]' }] as any;
    size.recount();
    expect(size.tokens()).toBe(Math.ceil(JSON.stringify(messages).length / 4));
  });
});
