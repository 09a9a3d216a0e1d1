/** `deep-agent chat`: an interactive session. Each message is a task; the sandbox and the conversation carry over. */
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/index.js';
import { MemoryJournal, runTask, type ApprovalDecision } from '../../agent/index.js';
import type { Sandbox, SandboxProvider } from '../../sandbox/index.js';
import { observeEvents } from '../../task/index.js';
import { newTaskRecord } from '../../task/index.js';
import { ProgressPrinter, terminalOptions } from '../progress.js';
import { openCliAgent } from '../run-one-task.js';
import type { Command } from '../io.js';

/** One sandbox for the whole session: tasks "close" it, the session really closes it at the end. */
function sessionSandbox(provider: SandboxProvider): SandboxProvider & { end(): Promise<void> } {
  let shared: Promise<Sandbox> | undefined;
  return {
    name: provider.name,
    create(options) {
      shared ??= provider.create({ ...options, taskId: `chat-${options.taskId}` });
      return shared.then((s) => new Proxy(s, { get: (t, p) => (p === 'close' ? async () => {} : Reflect.get(t, p)) }));
    },
    async end() {
      if (shared) await (await shared).close();
    },
  };
}

const MAX_HISTORY_CHARS = 40_000;

/** Chat reads its own prompt from the terminal, so approvals are decided up front by --yes. */
class ChatJournal extends MemoryJournal {
  constructor(private readonly autoApprove: boolean) {
    super();
  }
  async waitForApproval(): Promise<ApprovalDecision> {
    return this.autoApprove ? { approve: true, reason: 'approved by chat --yes' } : { approve: false, reason: 'chat cannot ask mid-task; restart it with --yes to allow calls that need approval' };
  }
}

export const chatCommand: Command = {
  name: 'chat',
  summary: 'interactive session; type exit to quit',
  usage: `deep-agent chat [--yes] [--model ID]

--model sets the model id for the session (default DEEP_AGENT_MODEL, else the built-in default).

--yes approves tool calls that need approval (DEEP_AGENT_APPROVAL, DEEP_AGENT_APPROVE_TOOLS); without it they are denied.
Type a message and press enter; the agent works on it in a sandbox kept for the whole session.
Type exit (or press Ctrl-D) to quit.`,
  async run(args, io) {
    const { values } = parseArgs({ args, allowPositionals: false, options: { yes: { type: 'boolean' }, model: { type: 'string' } } });
    const config = loadConfig(values.model ? { ...io.env, DEEP_AGENT_MODEL: values.model } : io.env, io.cwd);
    const rt = await openCliAgent(config);
    const sandboxProvider = sessionSandbox(rt.agent.sandboxProvider);
    const progress = new ProgressPrinter(io.stderr, terminalOptions(io.stderr, config.cli));
    const store = observeEvents(rt.store, (e) => progress.onEvent(e));
    const history: string[] = [];
    const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: io.stdin.isTTY === true });
    io.stderr.write('deep-agent chat: type a task, or exit to quit.\n');
    // Piped input may end (closing readline) while buffered lines are still being answered.
    let inputClosed = false;
    rl.once('close', () => (inputClosed = true));
    const showPrompt = () => !inputClosed && rl.prompt();
    try {
      rl.setPrompt('you> ');
      showPrompt();
      for await (const raw of rl) {
        const line = raw.trim();
        if (line === 'exit' || line === 'quit') break;
        if (line) {
          const context = history.join('\n').slice(-MAX_HISTORY_CHARS);
          const prompt = context ? `Conversation so far:\n${context}\n\nNew message from the user:\n${line}` : line;
          const id = randomUUID();
          await store.create(newTaskRecord({ id, prompt, source: 'cli' }));
          const record = await runTask({ taskId: id, store, model: rt.agent.model, sandboxProvider, journal: new ChatJournal(values.yes === true), ...rt.agent.taskOptions() });
          const answer = record.result?.text ?? `(${record.status}${record.error ? `: ${record.error.message}` : ''})`;
          io.stdout.write(`agent> ${answer}\n`);
          history.push(`User: ${line}`, `Agent: ${answer}`);
        }
        showPrompt();
      }
      return 0;
    } finally {
      rl.close();
      await sandboxProvider.end();
      await rt.close();
    }
  },
};
