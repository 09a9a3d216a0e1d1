/**
 * File operations on the host side of a local workspace, confined to it.
 *
 * Paths are resolved the way a process inside the sandbox would see them: `foo/bar` and `/workspace/foo/bar`
 * are the same file; symlinks are followed component by component, and an absolute link target counts as
 * inside only when it names the workspace (by its in-sandbox path or its host path). Anything that lands
 * outside is refused with `path_outside_workspace`.
 */
import { lstat, mkdir, open, readFile, readdir, readlink } from 'node:fs/promises';
import { constants } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { DeepAgentError } from '../../errors/index.js';
import type { FileEntry } from '../types.js';
import { DEFAULT_COMMAND_LIMITS, lexicalWorkspacePath, outsideWorkspace as outside, workspaceParts } from '../shared/index.js';

/** Directories whose contents `listFiles` does not descend into (the directory itself is listed). */
const OPAQUE_DIRS = new Set(['node_modules', '.git']);
const MAX_SYMLINK_HOPS = 40;

export interface WorkspaceFilesOptions {
  /** Real (symlink-free) host path of the workspace. */
  hostRoot: string;
  /** Absolute path prefixes that name the workspace root, e.g. `/workspace` as commands see it. */
  aliases: string[];
  /** At most this many entries from `list`. @default 5000 */
  maxListEntries?: number;
}

/**
 * The confined file API of one workspace.
 *
 * @example
 * const files = new WorkspaceFiles({ hostRoot: '/srv/ws/t1', aliases: ['/workspace'] });
 * await files.write('src/a.txt', 'hi');
 * await files.readText('/workspace/src/a.txt'); // 'hi'
 */
export class WorkspaceFiles {
  private readonly root: string;
  private readonly aliases: string[];
  private readonly maxListEntries: number;

  constructor(options: WorkspaceFilesOptions) {
    this.root = options.hostRoot;
    this.aliases = [...new Set([...options.aliases, options.hostRoot])];
    this.maxListEntries = options.maxListEntries ?? DEFAULT_COMMAND_LIMITS.maxListEntries;
  }

  /**
   * Resolves `path` to a host path inside the workspace, following symlinks; throws `path_outside_workspace`
   * when it escapes. The result may not exist yet.
   */
  async resolve(path: string): Promise<string> {
    const parts = workspaceParts(path, this.aliases);
    // `current` is always a real directory (or file) path under root, or lexical once `missing` is set.
    let current = this.root;
    let missing = false;
    let hops = 0;
    while (parts.length > 0) {
      const part = parts.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (current === this.root) throw outside(path);
        current = dirname(current);
        continue;
      }
      const next = join(current, part);
      if (missing) {
        current = next;
        continue;
      }
      let isLink = false;
      try {
        isLink = (await lstat(next)).isSymbolicLink();
      } catch (e) {
        if (errno(e) !== 'ENOENT' && errno(e) !== 'ENOTDIR') throw e;
        missing = true;
        current = next;
        continue;
      }
      if (!isLink) {
        current = next;
        continue;
      }
      if (++hops > MAX_SYMLINK_HOPS) throw new DeepAgentError('invalid_input', `${path}: too many levels of symbolic links`);
      const target = await readlink(next);
      if (posix.isAbsolute(target)) {
        parts.unshift(...workspaceParts(target, this.aliases, path));
        current = this.root;
      } else {
        parts.unshift(...target.split('/'));
      }
    }
    return current;
  }

  /**
   * The workspace-relative form of `path` without touching the disk (`''` for the root); throws
   * `path_outside_workspace` for absolute paths elsewhere and `..` escapes. Symlinks are not considered.
   */
  lexical(path: string): string {
    return lexicalWorkspacePath(path, this.aliases);
  }

  /** Reads a file as UTF-8 text. */
  async readText(path: string): Promise<string> {
    return (await this.readBytes(path)).toString('utf8');
  }

  /** Reads a file's bytes. */
  async readBytes(path: string): Promise<Buffer> {
    const host = await this.resolve(path);
    try {
      return await readFile(host);
    } catch (e) {
      throw fileError(e, path);
    }
  }

  /** Writes a file, creating parent directories; never writes through a symlink that leaves the workspace. */
  async write(path: string, content: string | Uint8Array): Promise<void> {
    const host = await this.resolve(path);
    if (host === this.root) throw new DeepAgentError('invalid_input', `${path} is the workspace directory, not a file`);
    try {
      await mkdir(dirname(host), { recursive: true });
      // O_NOFOLLOW: the path was resolved to a real one; a symlink swapped in since then is refused, not followed.
      const handle = await open(host, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
      try {
        await handle.writeFile(content);
      } finally {
        await handle.close();
      }
    } catch (e) {
      if (errno(e) === 'ELOOP') throw outside(path);
      throw fileError(e, path);
    }
  }

  /**
   * Lists files under `path` (default the root) recursively, paths relative to the workspace, sorted.
   * Symlinks are listed, not followed; `node_modules` and `.git` are listed but not entered.
   */
  async list(path = '.'): Promise<FileEntry[]> {
    const start = await this.resolve(path);
    const entries: FileEntry[] = [];
    const queue = [start];
    while (queue.length > 0 && entries.length < this.maxListEntries) {
      const dir = queue.shift()!;
      let names: string[];
      try {
        names = (await readdir(dir)).sort();
      } catch (e) {
        if (dir === start) throw fileError(e, path);
        continue;
      }
      for (const name of names) {
        if (entries.length >= this.maxListEntries) break;
        const host = join(dir, name);
        let st;
        try {
          st = await lstat(host);
        } catch {
          continue;
        }
        const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'file';
        entries.push({ path: relative(this.root, host).split(sep).join('/'), type, size: type === 'file' ? st.size : 0 });
        if (type === 'dir' && !OPAQUE_DIRS.has(name)) queue.push(host);
      }
    }
    return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

function fileError(e: unknown, path: string): DeepAgentError {
  switch (errno(e)) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new DeepAgentError('not_found', `${path} does not exist in the workspace`, { path });
    case 'EISDIR':
      return new DeepAgentError('invalid_input', `${path} is a directory, not a file`, { path });
    case 'EACCES':
    case 'EPERM':
      return new DeepAgentError('sandbox_error', `${path} cannot be accessed (permission denied)`, { path });
    default:
      return new DeepAgentError('sandbox_error', `${path}: ${(e as Error).message}`, { path }, { cause: e });
  }
}
