/**
 * How a path given to a sandbox names a place in its workspace, the same for every provider: relative paths
 * are relative to the workspace; an absolute path must start with one of the workspace's names (its path as
 * commands see it, `/workspace` everywhere, the host path locally); anything else is refused with
 * `path_outside_workspace`. Symlinks are each provider's to follow (on the host, or inside the VM).
 */
import { posix } from 'node:path';
import { DeepAgentError } from '../../errors/index.js';

/** Absolute paths under `/workspace` name the workspace in every sandbox, whatever its real path. */
export const WORKSPACE_ALIAS = '/workspace';

/** The error for a path that leaves the workspace. */
export function outsideWorkspace(path: string): DeepAgentError {
  return new DeepAgentError('path_outside_workspace', `${path} is outside the workspace; use a path relative to the workspace`, { path });
}

/**
 * Splits `path` into parts relative to the workspace root, unnormalised (so that `link/..` can still follow
 * the link); absolute paths must start with one of `aliases`. Throws `invalid_input` for a non-string or a
 * NUL byte, `path_outside_workspace` for an absolute path elsewhere. `shownAs` names the path in errors.
 *
 * @example
 * workspaceParts('/workspace/a/b', ['/workspace']); // ['a', 'b']
 */
export function workspaceParts(path: string, aliases: readonly string[], shownAs: string = path): string[] {
  if (typeof path !== 'string' || path.includes('\0')) throw new DeepAgentError('invalid_input', 'a path must be a string without NUL bytes');
  if (!posix.isAbsolute(path)) return path.split('/');
  const normal = posix.normalize(path);
  for (const raw of aliases) {
    const alias = raw.replace(/\/+$/, '') || '/';
    if (normal === alias) return [];
    if (normal.startsWith(alias + '/')) return normal.slice(alias.length + 1).split('/');
  }
  throw outsideWorkspace(shownAs);
}

/**
 * The workspace-relative form of `path` without touching the disk (`''` for the root): `..` that climbs out
 * is refused, symlinks are not considered.
 *
 * @example
 * lexicalWorkspacePath('src/../a.txt', ['/workspace']); // 'a.txt'
 */
export function lexicalWorkspacePath(path: string, aliases: readonly string[]): string {
  const rel = posix.normalize(workspaceParts(path, aliases).join('/') || '.');
  if (rel === '..' || rel.startsWith('../')) throw outsideWorkspace(path);
  return rel === '.' ? '' : rel;
}
