#!/usr/bin/env node
// The `deep-agent` executable (shipped as an esbuild bundle, lib/cli/bundle.ts). Only the version check is
// imported statically: an old Node must reach it and print one line, not fail while linking a module that needs
// `node:sqlite` (the bundle build checks that its entry still loads nothing else).
import { isSupportedNode, SUPPORTED_NODE } from '../lib/cli/node-version.js';

if (!isSupportedNode(process.versions.node)) {
  process.stderr.write(`deep-agent: needs ${SUPPORTED_NODE}; this is Node.js ${process.versions.node}.\n`);
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
