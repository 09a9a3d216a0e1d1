/**
 * The `deep-agent` executable as `npm run build` ships it: bin/deep-agent.ts and what it imports, bundled by
 * esbuild into dist/bin (the entry, and chunks under dist/bin/chunks). Node then reads a few files where it
 * otherwise resolves and links ~500 modules one by one, most of `deep-agent run`'s start-up
 * (test/bench/startup.ts measures it). Each dynamic import stays a chunk of its own, loaded when a command needs
 * it, so `run` still loads neither the HTTP server nor the MCP client.
 *
 * Runs at build time only (`node --import tsx lib/cli/bundle.ts`); tsconfig.build.json leaves it out of dist.
 * The library (`dist/lib`, the package's `exports`) stays tsc's output, module for module.
 */
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Where the executable lands: package.json `bin` is `<CLI_OUT_DIR>/deep-agent.js`. */
export const CLI_OUT_DIR = 'dist/bin';

/**
 * Not bundled, resolved from node_modules at run time: the optional Bedrock peer (there only when the user
 * installed it) and the E2B SDK (1.2 MB, loaded only when a task runs in an E2B sandbox).
 */
export const CLI_EXTERNAL = ['@anthropic-ai/bedrock-sdk', 'e2b'];

// ESM output still meets CommonJS dependencies that call require() (cross-spawn, node-forge); give them one,
// as the Lambda bundles do (lib/infra/node-function.ts).
const REQUIRE_BANNER = "import { createRequire as __deepAgentCreateRequire } from 'node:module'; const require = __deepAgentCreateRequire(import.meta.url);";

/**
 * Bundles the CLI into `<root>/dist/bin` and checks the two things a bundle could silently break: the entry
 * imports nothing up front (an old Node must reach the version check and print its one line), and the egress
 * proxy sits where the bubblewrap provider imports it from (a non-literal `./egress-proxy.js` next to the
 * provider's chunk, so that the Lambda bundles leave it out).
 *
 * @example
 * await bundleCli(); // dist/bin/deep-agent.js, dist/bin/chunks/*.js
 */
export async function bundleCli(root = REPO_ROOT): Promise<esbuild.Metafile> {
  const { metafile } = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { 'deep-agent': 'bin/deep-agent.ts', 'chunks/egress-proxy': 'lib/sandbox/local/egress-proxy.ts' },
    outdir: CLI_OUT_DIR,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    external: CLI_EXTERNAL,
    // Errors from the bundled SDKs are told apart by their class name (e.g. the MCP SDK's UnauthorizedError);
    // esbuild would otherwise rename a class whose name another module also uses.
    keepNames: true,
    banner: { js: REQUIRE_BANNER },
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.entries(metafile.outputs);
  const upFront = staticClosure(metafile, `${CLI_OUT_DIR}/deep-agent.js`);
  const early = upFront.filter((path) => path !== 'bin/deep-agent.ts' && path !== 'lib/cli/node-version.ts');
  if (early.length) throw new Error(`the CLI entry must load nothing before the Node version check but that check, yet loads ${early.join(', ')}`);
  const provider = outputs.find(([, o]) => 'lib/sandbox/local/sandbox.ts' in o.inputs)?.[0];
  if (!provider?.startsWith(`${CLI_OUT_DIR}/chunks/`) || provider.slice(CLI_OUT_DIR.length + 8).includes('/')) {
    throw new Error(`the bubblewrap provider's chunk (${provider}) must sit beside ${CLI_OUT_DIR}/chunks/egress-proxy.js`);
  }
  return metafile;
}

/** The sources and external modules that load with `output` before any of its code runs (static imports, transitively). */
function staticClosure(metafile: esbuild.Metafile, output: string): string[] {
  const seen = new Set<string>();
  const found = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const out = metafile.outputs[path];
    if (!out) throw new Error(`no ${path} in the bundle`);
    for (const input of Object.keys(out.inputs)) found.add(input);
    for (const i of out.imports) {
      if (i.kind === 'dynamic-import') continue;
      if (i.external) found.add(i.path);
      else visit(i.path);
    }
  };
  visit(output);
  return [...found];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await bundleCli();
