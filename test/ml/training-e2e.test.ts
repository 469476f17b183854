import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDataset, writeDataset } from '../../ml/dataset.js';
import { loadModel } from '../../ml/model.js';
import { runTraining } from '../../client/commands/ml.js';
import { FEATURE_NAMES } from '../../core/features.js';
import { SIGNAL_CLASSES } from '../../core/types.js';

/**
 * The whole path on a small slice of real data: dataset (TypeScript features + labels) -> Python
 * walk-forward training -> ONNX export with the parity assertion -> the model loads and scores in Node.
 */
describe('end-to-end training on a slice', () => {
  it('builds, trains, exports and loads a model whose Node scores match Python', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qt-train-'));
    const opts = { dataDir: 'test/fixtures/ml-slice', from: Date.UTC(2025, 8, 3), progress: false };
    const ds = buildDataset(opts);
    expect(ds.symbols).toEqual(['BTCUSDT', 'DOGEUSDT', 'ETHUSDT', 'SOLUSDT']);
    expect(ds.rows).toBeGreaterThan(5000);
    const paths = writeDataset(ds, join(dir, 'ds.json'), opts);
    const side = JSON.parse(readFileSync(paths.json, 'utf8'));
    expect(side.featureNames).toEqual(FEATURE_NAMES);
    // No row before --from; candles before it only warmed the indicators up.
    const times = ds.meta.filter((_, i) => i % 5 === 0);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(opts.from);

    const out = join(dir, 'model');
    const code = await runTraining(['--dataset', paths.json, '--out', out, '--folds', '2', '--trees', '15', '--max-rows', '20000', '--threads', '1']);
    expect(code).toBe(0);
    const card = JSON.parse(readFileSync(join(out, 'card.json'), 'utf8'));
    expect(card.featureNames).toEqual(FEATURE_NAMES);
    expect(card.classes).toEqual(SIGNAL_CLASSES);
    expect(card.input).toMatchObject({ kind: 'features', name: 'features' });
    expect(card.parity.maxRawDiff).toBeLessThan(1e-5);
    expect(card.parity.maxCalibratedDiff).toBeLessThan(1e-5);
    expect(Object.keys(card.metrics.outOfSample.baselines)).toEqual(['alwaysHold', 'random', 'momentum', 'logistic']);
    expect(typeof card.promotable).toBe('boolean');
    expect(card.data.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(existsSync(join(out, 'model.onnx'))).toBe(true);

    const sample = JSON.parse(readFileSync(join(out, 'parity-sample.json'), 'utf8')) as { features: number[][]; probabilities: number[][] };
    const model = await loadModel(out);
    const probs = await model.run(Float32Array.from(sample.features.flat()), sample.features.length);
    sample.probabilities.forEach((row, i) => row.forEach((p, k) => expect(Math.abs(probs[i * 3 + k]! - p)).toBeLessThan(1e-5)));
    await model.close();

    // Control: the same training on permuted labels must fall to chance and never be promotable.
    const control = join(dir, 'control');
    expect(await runTraining(['--dataset', paths.json, '--out', control, '--folds', '2', '--trees', '15', '--max-rows', '20000', '--threads', '1', '--shuffle-labels'])).toBe(0);
    const c = JSON.parse(readFileSync(join(control, 'card.json'), 'utf8'));
    expect(c.shuffledLabels).toBe(true);
    expect(c.promotable).toBe(false);
    expect(Math.abs(c.metrics.outOfSample.model.accuracy - c.metrics.outOfSample.chanceAccuracy)).toBeLessThan(0.03);
  }, 110_000);
});
