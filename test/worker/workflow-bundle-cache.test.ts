import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cachedWorkflowBundle } from '../../worker/workflow-bundle-cache.js';

describe('workflow bundle cache', () => {
  const roots: string[] = [];
  afterEach(() => roots.splice(0).forEach((r) => rmSync(r, { recursive: true, force: true })));

  function project(): { root: string; cache: string; builds: () => number; build: () => Promise<{ code: string; sourceMap: string }> } {
    const root = mkdtempSync(path.join(os.tmpdir(), 'qt-bundle-'));
    roots.push(root);
    mkdirSync(path.join(root, 'workflows'));
    mkdirSync(path.join(root, 'test'));
    writeFileSync(path.join(root, 'workflows', 'loop.ts'), 'export const v = 1;');
    writeFileSync(path.join(root, 'package-lock.json'), '{"lockfileVersion":3}');
    let n = 0;
    return {
      root,
      cache: path.join(root, 'node_modules', '.cache'),
      builds: () => n,
      build: async () => ({ code: `bundle ${++n}`, sourceMap: `map ${n}` }),
    };
  }

  it('bundles once per source version and reuses the bundle from disk', async () => {
    const p = project();
    expect(await cachedWorkflowBundle(p.root, p.build, p.cache)).toEqual({ code: 'bundle 1', sourceMap: 'map 1' });
    expect(await cachedWorkflowBundle(p.root, p.build, p.cache)).toEqual({ code: 'bundle 1', sourceMap: 'map 1' });
    expect(p.builds()).toBe(1);
  });

  it('bundles again after any source or lock file change, and keeps only the newest bundle', async () => {
    const p = project();
    await cachedWorkflowBundle(p.root, p.build, p.cache);
    writeFileSync(path.join(p.root, 'workflows', 'loop.ts'), 'export const v = 2;');
    expect((await cachedWorkflowBundle(p.root, p.build, p.cache)).code).toBe('bundle 2');
    writeFileSync(path.join(p.root, 'package-lock.json'), '{"lockfileVersion":3,"x":1}');
    expect((await cachedWorkflowBundle(p.root, p.build, p.cache)).code).toBe('bundle 3');
    writeFileSync(path.join(p.root, 'workflows', 'new-file.ts'), '');
    expect((await cachedWorkflowBundle(p.root, p.build, p.cache)).code).toBe('bundle 4');
    expect(readdirSync(p.cache).sort()).toHaveLength(2); // one bundle and its map
  });

  it('ignores tests and files that are not source', async () => {
    const p = project();
    await cachedWorkflowBundle(p.root, p.build, p.cache);
    writeFileSync(path.join(p.root, 'test', 'x.test.ts'), 'changed');
    writeFileSync(path.join(p.root, 'notes.md'), 'changed');
    await cachedWorkflowBundle(p.root, p.build, p.cache);
    expect(p.builds()).toBe(1);
  });

  it('builds again when a cached bundle is incomplete', async () => {
    const p = project();
    await cachedWorkflowBundle(p.root, p.build, p.cache);
    for (const f of readdirSync(p.cache)) if (f.endsWith('.map')) rmSync(path.join(p.cache, f));
    expect((await cachedWorkflowBundle(p.root, p.build, p.cache)).code).toBe('bundle 2');
  });

  it('still returns the bundle when the cache cannot be written', async () => {
    const p = project();
    writeFileSync(path.join(p.root, 'not-a-dir'), '');
    expect((await cachedWorkflowBundle(p.root, p.build, path.join(p.root, 'not-a-dir', 'cache'))).code).toBe('bundle 1');
  });
});
