/** What a CLI command may touch: its arguments, the environment, and three streams. Tests pass their own. */
import type { Readable, Writable } from 'node:stream';

export interface CliIo {
  argv: string[];
  env: Record<string, string | undefined>;
  cwd: string;
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Returns the process exit code. */
  run(args: string[], io: CliIo): Promise<number>;
}

/** A user mistake: printed as one line, exit code 1 (2 for usage). */
export class UsageError extends Error {
  readonly code = 'usage';
}
