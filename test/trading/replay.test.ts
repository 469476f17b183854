import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { bundleWorkflows } from '../../worker/create-worker.js';
import { installTemporalLogger } from '../../worker/runtime.js';

installTemporalLogger(pino({ level: 'error' }));

/**
 * Saved histories of real runs (symbol loop with entries, exits, kill, continue-as-new, risk-book
 * reservations, a journal outage, a restart that owns the running position, a flatten without a
 * position workflow; positions through TP, stop and trailing exits, partial entries, a failed stop, a
 * journal outage; the risk book; the reconciler; a retraining whose worker was killed mid-training; a loop whose
 * clock read reached it one workflow task after its marker, `test/trading/late-local-result.test.ts`) replayed against the current workflow code. A change
 * that breaks determinism for workflows already running fails here: guard it with patched().
 * `position-legacy-*` are histories of the position workflow before the lifecycle
 * (workflows/position-legacy.ts) and are never refreshed. Refresh the others with
 * `QT_CAPTURE_HISTORIES=1 npx vitest run test/trading test/workflows` after an intended change.
 */
const DIR = path.join(import.meta.dirname, '..', 'fixtures', 'histories');

describe('workflow replay compatibility', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));

  it('has saved histories of every workflow type', () => {
    for (const type of ['symbol-', 'position-', 'risk-book-', 'reconciler-', 'retrain-']) expect(files.some((f) => f.startsWith(type))).toBe(true);
  });

  it('replays every saved history without a determinism error', async () => {
    const workflowBundle = await bundleWorkflows();
    const histories = files.map((f) => ({ workflowId: f.replace(/\.json$/, ''), history: JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) as unknown }));
    const failures: string[] = [];
    for await (const r of Worker.runReplayHistories({ workflowBundle }, histories)) {
      if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
    }
    expect(failures).toEqual([]);
  });

  // The worker evaluates a workflow's modules afresh for every workflow it creates: zod's module and a schema
  // built at import made each creation about four times as costly (core/params.ts says more).
  it('keeps zod out of the workflow bundle', async () => {
    const { code } = await bundleWorkflows();
    expect(code).toContain('./core/params.ts');
    expect(code).not.toMatch(/node_modules\/zod\//);
  });
});
