/**
 * The scripted model server of the per-step figures, in a process of its own, as the real API is: its work
 * (parsing each growing request body, hashing prefixes for the cache accounting) then neither runs on the
 * measured process's thread nor fills its heap, whose garbage collection would be charged to the loop.
 * Run as a child (`fork`): on `{ start: steps }` it starts a server whose every turn but the last calls
 * write_todos and replies `{ url }`; on `{ stop: url }` it closes that server and replies with its request
 * arrival times.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { startScriptedModel, type CapturedRequest, type ScriptedModelServer } from '../helpers/scripted-model.js';

/** A realistic turn: a plan update whose text (~600 characters) stays in the conversation. */
export const note = (turn: number) => `step ${turn}: ${'inspect the repository layout and note what matters; '.repeat(11)}`;
const turnOf = (req: CapturedRequest) => req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;

/**
 * Every turn but the last calls write_todos; the server stamps each request's arrival. The server's record of
 * past requests is dropped as it goes: kept, 300 growing bodies (tens of MB) would make the run about GC.
 */
export function stepScript(steps: number, stamps: number[], server?: () => ScriptedModelServer) {
  return (req: CapturedRequest) => {
    stamps.push(performance.now());
    server?.().requests.splice(0);
    const turn = turnOf(req);
    if (turn >= steps) return { text: 'done' };
    return { toolUses: [{ name: 'write_todos', input: { todos: [{ content: note(turn), status: 'in_progress' }] } }] };
  };
}

type Reply = { url: string } | { stamps: number[] };

/** The child process hosting step servers, and a way to start one there. */
export class StepServerProcess {
  private readonly child: ChildProcess;
  private readonly waiting: Array<(r: Reply) => void> = [];
  constructor() {
    this.child = fork(new URL(import.meta.url), ['--serve'], { execArgv: ['--no-warnings=ExperimentalWarning', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m) => this.waiting.shift()?.(m as Reply));
  }
  private ask(message: object): Promise<Reply> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.child.send(message);
    });
  }
  /** A server for one run of `steps` steps; `close()` gives its request arrival times. */
  async start(steps: number): Promise<{ url: string; close(): Promise<number[]> }> {
    const { url } = (await this.ask({ start: steps })) as { url: string };
    return { url, close: async () => ((await this.ask({ stop: url })) as { stamps: number[] }).stamps };
  }
  close(): void {
    this.child.kill();
  }
}

if (process.argv.includes('--serve')) {
  const servers = new Map<string, { server: ScriptedModelServer; stamps: number[] }>();
  // One message at a time, in order, so replies match the parent's queue.
  let queue = Promise.resolve();
  process.on('message', (m: { start?: number; stop?: string }) => {
    queue = queue.then(async () => {
      if (m.start !== undefined) {
        const stamps: number[] = [];
        const server: ScriptedModelServer = await startScriptedModel(stepScript(m.start, stamps, () => server));
        servers.set(server.url, { server, stamps });
        process.send!({ url: server.url });
      } else if (m.stop) {
        const entry = servers.get(m.stop)!;
        servers.delete(m.stop);
        await entry.server.close();
        process.send!({ stamps: entry.stamps });
      }
    });
  });
  process.on('disconnect', () => process.exit(0));
}
