// The bare-SDK baseline of the start-up figure: a script that imports @anthropic-ai/sdk and sends one streaming
// request, as a user's hand-written agent would. Plain JavaScript so it runs without any loader.
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ maxRetries: 0 });
const stream = client.messages.stream({
  model: 'claude-sonnet-5-5',
  max_tokens: 1024,
  messages: [{ role: 'user', content: process.argv[2] ?? 'hello' }],
});
await stream.finalMessage();
