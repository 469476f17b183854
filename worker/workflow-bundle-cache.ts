import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';

/**
 * The workflow bundle, kept on disk under a fingerprint of the project's source.
 *
 * Why: bundling the workflow code takes 3.7 to 5 s on this machine, more than half of a restarted worker's time
 * to come back (chaos/breakdown.ts), and every test file that starts a worker paid it too. A bundle is reused
 * only when nothing it could have been built from changed: the fingerprint covers every source file of the
 * project outside tests and node_modules (path and content) and package-lock.json (the bundler's and the
 * workflow library's versions), so an edit anywhere bundles again, and a stale bundle (old workflow code,
 * nondeterminism on replay) cannot be loaded.
 */
export async function cachedWorkflowBundle(root: string, build: () => Promise<WorkflowBundleWithSourceMap>, dir = defaultCacheDir(root)): Promise<WorkflowBundleWithSourceMap> {
  const key = sourceFingerprint(root);
  const codeFile = path.join(dir, `workflow-bundle-${key}.js`);
  const mapFile = `${codeFile}.map`;
  try {
    return { code: readFileSync(codeFile, 'utf8'), sourceMap: readFileSync(mapFile, 'utf8') };
  } catch {
    // Not bundled yet for this source (or a partial cache): build it.
  }
  const bundle = await build();
  try {
    mkdirSync(dir, { recursive: true });
    for (const old of readdirSync(dir)) if (old.startsWith('workflow-bundle-') && !old.startsWith(`workflow-bundle-${key}`)) rmSync(path.join(dir, old), { force: true });
    // The map first, then the code, each renamed into place whole: a reader that finds the code finds its map.
    writeWhole(mapFile, bundle.sourceMap);
    writeWhole(codeFile, bundle.code);
  } catch {
    // A read-only install still runs; it bundles at every start as before.
  }
  return bundle;
}

export function defaultCacheDir(root: string): string {
  return path.join(root, 'node_modules', '.cache', 'quantum-trader');
}

/** Directories that cannot hold workflow code: tests, dependencies (covered by the lock file), tooling state. */
const SKIPPED = new Set(['node_modules', 'test', '.git', '.qt', 'coverage', 'models']);
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs|json)$/;

export function sourceFingerprint(root: string): string {
  const hash = createHash('sha256');
  const walk = (rel: string): void => {
    for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        // .venv and the .venv-* of other Python versions.
        if (!SKIPPED.has(entry.name) && !entry.name.startsWith('.venv')) walk(child);
      } else if (entry.isFile() && SOURCE.test(entry.name)) {
        hash.update(child).update('\0').update(readFileSync(path.join(root, child))).update('\0');
      }
    }
  };
  walk('');
  return hash.digest('hex').slice(0, 16);
}

function writeWhole(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
