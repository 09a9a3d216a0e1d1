#!/usr/bin/env node
// The `deep-agent` executable. This file imports nothing statically: an old Node must reach the version check
// below and print one line, not fail while linking a module that needs `node:sqlite`.
const MINIMUM = 'Node.js 22.13 or newer (23.4 or newer on the 23 line)';
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
// node:sqlite loads without a flag from 22.13.0 and 23.4.0 (package.json `engines` says the same).
if (major < 22 || (major === 22 && minor < 13) || (major === 23 && minor < 4)) {
  process.stderr.write(`deep-agent: needs ${MINIMUM}; this is Node.js ${process.versions.node}.\n`);
  process.exit(1);
}
// Node 22 and 23 call node:sqlite experimental; that notice is noise for a CLI user. Other warnings still print.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  if (/SQLite/.test(typeof warning === 'string' ? warning : warning.message)) return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

const { main } = await import('../lib/cli/index.js');
// `deep-agent mcp tools | head` closes our stdout early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
process.exitCode = await main({ argv: process.argv.slice(2), env: { ...process.env }, cwd: process.env.INIT_CWD ?? process.cwd(), stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
