/**
 * The Node.js versions deep-agent runs on: node:sqlite loads without a flag from 22.13.0 and 23.4.0
 * (package.json `engines` says the same). This module imports nothing, so the executable can check the version
 * before it loads anything that needs node:sqlite.
 */
export const SUPPORTED_NODE = 'Node.js 22.13 or newer (23.4 or newer on the 23 line)';

/**
 * @example
 * isSupportedNode(process.versions.node); // true on 24.x
 */
export function isSupportedNode(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major >= 24 || (major === 23 && minor >= 4) || (major === 22 && minor >= 13);
}
