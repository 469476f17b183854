import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RetrainResult } from '../../workflows/retrain-contracts.js';
import { captureHistory } from '../trading/capture.js';
import { eventually } from '../trading/harness.js';
import { startLearningStack, type LearningStack } from './learning-stack.js';

/** A worker SIGKILLed while the trainer runs: the workflow completes after a restart, with one candidate. */
describe('retraining survives a worker crash', () => {
  let s: LearningStack;

  beforeAll(async () => {
    s = await startLearningStack();
    await s.startWorker();
  }, 240_000);
  afterAll(async () => s?.close());

  const trainersOf = (dir: string) => execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => l.includes(dir) && l.includes('python'));

  it('resumes from the finished stages and registers the candidate once', async () => {
    const workflowId = `retrain-crash-${randomBytes(3).toString('hex')}`;
    const handle = await s.client.workflow.start('retrainWorkflow', { workflowId, taskQueue: s.env.QT_TASK_QUEUE!, args: [{}] });
    const candidate = await eventually(async () => (await handle.describe()).searchAttributes.QtCandidate?.[0] as string | undefined, 'the candidate version');
    const modelFile = path.join(s.storeDir, candidate, 'model.onnx');
    const work = path.join(s.storeDir, 'work', candidate);
    // Killed in the second stage (the shuffled-label control), after the candidate itself was trained.
    await eventually(async () => existsSync(path.join(s.storeDir, candidate, 'card.json')) && trainersOf(work).length > 0, 'the control stage to be running', 180_000);
    const trainedAt = statSync(modelFile).mtimeMs;
    await s.killWorker();
    // The trainer dies with its worker: no orphan keeps writing into the work directory.
    await eventually(async () => trainersOf(work).length === 0, 'the trainer to exit with the worker', 10_000);

    await s.startWorker();
    const result = (await handle.result()) as RetrainResult;
    expect(result.candidate).toBe(candidate);
    expect(['PROMOTED', 'REJECTED']).toContain(result.outcome);
    // The candidate stage was not trained again.
    expect(statSync(modelFile).mtimeMs).toBe(trainedAt);
    const rows = (await s.journal.pool.query<{ version: string; candidate_of: string | null }>('SELECT version, candidate_of FROM models ORDER BY version')).rows;
    expect(rows).toEqual([{ version: candidate, candidate_of: workflowId }, { version: 'xgb-v1', candidate_of: null }]);
    // The training activity ran more than once: the crash really hit it.
    const events = (await handle.fetchHistory()).events ?? [];
    const attempts = events.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
    expect(Math.max(...attempts)).toBeGreaterThan(1);
    await captureHistory(workflowId, 'retrain-worker-crash');
  }, 400_000);
});
