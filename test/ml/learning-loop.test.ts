import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../ml/registry.js';
import { eventually } from '../trading/harness.js';
import { REPLAY_START, startLearningStack, type LearningStack } from './learning-stack.js';

const HOUR = 3_600_000;

/**
 * The learning loop end to end on a small slice: a journal with executed positions, `qt retrain --now`,
 * the gate's verdict in the registry, hot reload of a promoted model (new signal rows carry its version,
 * no worker restart), `qt models rollback`, and a shuffled-label candidate that is never promoted.
 */
describe('learning loop', () => {
  let s: LearningStack;
  let registry: ModelRegistry;

  beforeAll(async () => {
    s = await startLearningStack({ ownNamespace: true });
    registry = new ModelRegistry(s.journal.pool);
    // Positions the agent executed inside the window, entered on xgb-v1 signals.
    for (let i = 0; i < 3; i++) {
      const positionId = `BTCUSDT-seed-${i}`;
      const openedAt = REPLAY_START - (30 - i) * HOUR;
      await s.journal.openPosition({ positionId, workflowId: `qt-position-${positionId}`, symbol: 'BTCUSDT', side: i % 2 ? 'SHORT' : 'LONG', quantity: 0.002, entryPrice: 110_000,
        entryFee: 0.11, openedAt, stopPrice: null, takeProfitPrice: null, modelVersion: 'xgb-v1', entryCandleTime: openedAt - 300_000 });
      await s.journal.closePosition({ positionId, exitPrice: 110_500, exitReason: 'TAKE_PROFIT', exitFee: 0.11, grossPnl: i % 2 ? -1 : 1, netPnl: i % 2 ? -1.22 : 0.78, closedAt: openedAt + HOUR });
    }
    await s.startWorker();
    const start = await s.qt(['start']);
    expect(start.stderr).toBe('');
    expect(start.stdout).toContain(`retrain schedule qt-retrain-${s.env.QT_TASK_QUEUE}: 30 0 * * * (UTC)`);
  }, 240_000);
  afterAll(async () => s?.close());

  const newSignalsOf = async (model: string, after: Date) =>
    (await s.journal.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM signals WHERE model = $1 AND at > $2', [model, after])).rows[0]!.n;
  const healthModel = async () => ((await (await fetch(s.healthUrl)).json()) as { model: { name: string } }).model.name;

  it('trains a candidate, gates it, hot-reloads a promotion and rolls back', async () => {
    expect((await registry.active())?.version).toBe('xgb-v1'); // seeded on first start
    await eventually(async () => (await newSignalsOf('xgb-v1', new Date(0))) > 0, 'signals scored by xgb-v1', 60_000);

    const run = await s.qt(['retrain', '--now', '--wait'], 420_000);
    expect(run.stderr).toBe('');
    const outcome = /(xgb-r\S+): (PROMOTED|REJECTED)/.exec(run.stdout);
    expect(outcome, run.stdout).not.toBeNull();
    const [, candidate, verdict] = outcome as unknown as [string, string, string];

    const rows = await registry.list();
    expect(rows.map((r) => r.version).sort()).toEqual([candidate, 'xgb-v1'].sort());
    const row = rows.find((r) => r.version === candidate)!;
    expect(row.status).toBe(verdict === 'PROMOTED' ? 'ACTIVE' : 'REJECTED');
    expect(row.dataHash).toMatch(/^sha256:/);
    expect(row.codeVersion).toMatch(/^(git:|quantum)/);
    if (verdict === 'REJECTED') expect(row.reason).toMatch(/does not beat|log loss|trades </);
    const card = JSON.parse(readFileSync(path.join(row.dir, 'card.json'), 'utf8'));
    expect(card.name).toBe(candidate);
    expect(card.promotable).toBe(verdict === 'PROMOTED');
    // Data up to the replay clock, never past it.
    expect(Date.parse(card.retraining.window.to)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(card.data.lastTime)).toBeLessThan(Date.parse(card.retraining.window.to));
    expect(Date.parse(card.retraining.window.to)).toBeGreaterThanOrEqual(REPLAY_START);
    expect(Date.parse(card.retraining.window.to)).toBeLessThan(REPLAY_START + HOUR);
    expect(card.retraining.ownOutcomes).toMatchObject({ ownTrades: 3, matchedToDataset: 3, metaModel: { trained: false } });
    expect(card.retraining.ownOutcomes.metaModel.reason).toMatch(/too few own trades/);
    expect(card.gate.evidence.active.version).toBe('xgb-v1');
    expect(card.gate.evidence.parityMaxDiff).toBeLessThan(1e-5);

    // Visible in the Web UI by candidate and outcome.
    const listed = await eventually(async () => {
      for await (const wf of s.client.workflow.list({ query: `QtCandidate = '${candidate}'` })) return wf;
      return null;
    }, 'the retrain workflow by its QtCandidate attribute');
    expect(listed.type).toBe('retrainWorkflow');
    expect(listed.searchAttributes.QtOutcome).toEqual([verdict]);

    if (verdict === 'REJECTED') {
      const promote = await s.qt(['models', 'promote', candidate]);
      expect(promote.stdout).toContain(`${candidate} is ACTIVE (its card is not promotable`);
    }
    const promotedAt = new Date();
    // Hot reload: the running worker scores with the candidate, no restart.
    await eventually(async () => (await newSignalsOf(candidate, promotedAt)) >= 2, 'signals scored by the candidate', 30_000);
    expect(await healthModel()).toBe(candidate);
    expect((await s.qt(['status'])).stdout).toContain(`model: ${candidate} (ACTIVE`);

    const rollback = await s.qt(['models', 'rollback']);
    expect(rollback.stdout).toContain(`rolled back: ${candidate} -> xgb-v1`);
    const rolledBackAt = new Date();
    await eventually(async () => (await newSignalsOf('xgb-v1', rolledBackAt)) >= 2, 'signals scored by xgb-v1 again', 30_000);
    expect(await healthModel()).toBe('xgb-v1');
    expect((await registry.get(candidate))!.status).toBe('RETIRED');
    const list = await s.qt(['models', 'list']);
    expect(list.stdout).toMatch(/xgb-v1\s+.*ACTIVE/);
  }, 600_000);

  it('never promotes a candidate trained on shuffled labels', async () => {
    const run = await s.qt(['retrain', '--now', '--shuffle-labels', '--wait'], 420_000);
    expect(run.stderr).toBe('');
    const m = /(xgb-r\S+-shuffled): (PROMOTED|REJECTED) \((.+)\); ACTIVE (\S+)/.exec(run.stdout);
    expect(m, run.stdout).not.toBeNull();
    expect(m![2]).toBe('REJECTED');
    expect(m![3]).toContain('trained on shuffled labels');
    expect(m![4]).toBe('xgb-v1');
    expect((await registry.get(m![1]!))!.status).toBe('REJECTED');
  }, 480_000);
});
