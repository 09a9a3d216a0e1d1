import { mkdir, mkdtemp, realpath, rm, symlink, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkspaceFiles } from '../../lib/sandbox/index.js';

describe('WorkspaceFiles', () => {
  let base: string;
  let root: string;
  let files: WorkspaceFiles;
  const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: { code?: string }) => e.code);

  beforeAll(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'ws-unit-')));
    root = join(base, 'ws');
    await mkdir(join(root, 'src'), { recursive: true });
    await writeFile(join(base, 'secret.env'), 'TOKEN=outside');
    await writeFile(join(root, 'src', 'a.txt'), 'A');
    files = new WorkspaceFiles({ hostRoot: root, aliases: ['/workspace'], maxListEntries: 3 });
  });
  afterAll(() => rm(base, { recursive: true, force: true }));

  it('treats relative, /workspace and host-absolute paths of the same file alike', async () => {
    expect(await files.readText('src/a.txt')).toBe('A');
    expect(await files.readText('/workspace/src/a.txt')).toBe('A');
    expect(await files.readText(join(root, 'src/a.txt'))).toBe('A');
    expect(await files.readText('./src/../src/a.txt')).toBe('A');
  });

  it('computes lexical paths without the disk, refusing escapes', () => {
    expect(files.lexical('/workspace')).toBe('');
    expect(files.lexical('a/./b/../c')).toBe('a/c');
    expect(() => files.lexical('a/../../b')).toThrow(expect.objectContaining({ code: 'path_outside_workspace' }));
    expect(() => files.lexical('/workspacex/a')).toThrow(expect.objectContaining({ code: 'path_outside_workspace' }));
  });

  it('follows links as the sandbox sees them: /workspace targets stay inside, others are refused', async () => {
    await symlink('/workspace/src/a.txt', join(root, 'abs-inside'));
    await symlink(join(base, 'secret.env'), join(root, 'abs-outside'));
    await symlink('../secret.env', join(root, 'rel-outside'));
    await symlink('loop-b', join(root, 'loop-a'));
    await symlink('loop-a', join(root, 'loop-b'));

    expect(await files.readText('abs-inside')).toBe('A');
    expect(await code(files.readText('abs-outside'))).toBe('path_outside_workspace');
    expect(await code(files.readText('rel-outside'))).toBe('path_outside_workspace');
    expect(await code(files.readText('loop-a'))).toBe('invalid_input');
  });

  it('never writes outside, not even through a dangling link', async () => {
    await symlink(join(base, 'created-by-escape.txt'), join(root, 'dangling'));

    expect(await code(files.write('dangling', 'x'))).toBe('path_outside_workspace');
    expect(await code(readFile(join(base, 'created-by-escape.txt')))).toBe('ENOENT');
  });

  it('maps file errors to codes a model can act on', async () => {
    expect(await code(files.readText('missing.txt'))).toBe('not_found');
    expect(await code(files.readText('src'))).toBe('invalid_input');
    expect(await code(files.write('/workspace', 'x'))).toBe('invalid_input');
    expect(await code(files.readText('a\0b'))).toBe('invalid_input');
  });

  it('caps the listing', async () => {
    for (const n of ['1', '2', '3', '4']) await writeFile(join(root, 'src', `${n}.txt`), n);
    expect(await files.list('src')).toHaveLength(3);
  });
});
