import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { ModelRegistry, RegistryError } from '../../ml/registry.js';
import { RegistryModelProvider, loadFixedModels } from '../../ml/model-provider.js';
import { useTestJournal } from '../helpers/db.js';

const db = useTestJournal();
const paper = { liveTrading: false, allowUnproven: false };
const live = { liveTrading: true, allowUnproven: false };

/** A copy of the shipped model under another version name (what a retrained candidate looks like to the registry). */
function copyAs(version: string, edit: (card: Record<string, unknown>) => void = () => {}): string {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'qt-registry-')), version);
  cpSync('models/xgb-v1', dir, { recursive: true });
  const card = JSON.parse(readFileSync(path.join(dir, 'card.json'), 'utf8'));
  card.name = version;
  edit(card);
  writeFileSync(path.join(dir, 'card.json'), JSON.stringify(card));
  return dir;
}

describe('model registry', () => {
  it('seeds once, registers a candidate once per workflow, promotes with the live guard and rolls back', async () => {
    const r = new ModelRegistry(db.journal.pool);
    expect(await r.seed('models/xgb-v1', 'git:test')).toBe(true);
    expect(await r.seed('models/xgb-v1', 'git:test')).toBe(false);
    expect((await r.active())).toMatchObject({ version: 'xgb-v1', status: 'ACTIVE', promotedBy: 'seed' });

    const dir = copyAs('xgb-r1');
    const card = JSON.parse(readFileSync(path.join(dir, 'card.json'), 'utf8'));
    const first = await r.addCandidate({ version: 'xgb-r1', dir, card, codeVersion: 'git:test', candidateOf: 'wf-1' });
    const again = await r.addCandidate({ version: 'xgb-r1', dir, card, codeVersion: 'git:test', candidateOf: 'wf-1' });
    expect(again.createdAt).toEqual(first.createdAt);
    expect((await r.list()).length).toBe(2);
    await expect(r.addCandidate({ version: 'xgb-r1', dir, card, codeVersion: 'git:test', candidateOf: 'wf-2' })).rejects.toThrow(RegistryError);

    // xgb-v1's card (and this copy's) says promotable: false: live trading refuses it without the override.
    await expect(r.promote('xgb-r1', 'test', 'by hand', live)).rejects.toThrow(/QT_ALLOW_UNPROVEN_MODEL=true/);
    await r.promote('xgb-r1', 'test', 'by hand', { liveTrading: true, allowUnproven: true });
    expect((await r.active())!.version).toBe('xgb-r1');
    expect((await r.get('xgb-v1'))!.status).toBe('RETIRED');
    await expect(r.promote('nope', 'test', 'by hand', paper)).rejects.toThrow(/no model version nope/);

    expect(await r.rollback('test', paper)).toEqual({ from: 'xgb-r1', to: 'xgb-v1' });
    expect((await r.active())!.version).toBe('xgb-v1');
    expect((await r.get('xgb-r1'))!.status).toBe('RETIRED');
    const active = await db.journal.pool.query("SELECT count(*)::int AS n FROM models WHERE status = 'ACTIVE'");
    expect(active.rows[0].n).toBe(1);
  });

  it('hot reload: the provider swaps to a new ACTIVE model, keeps a lent session open until released, and refuses a model failing parity', async () => {
    const r = new ModelRegistry(db.journal.pool);
    await r.seed('models/xgb-v1', 'git:test');
    if ((await r.active())!.version !== 'xgb-v1') await r.promote('xgb-v1', 'test', 'reset', paper);
    const log = pino({ level: 'silent' });
    const fallback = await loadFixedModels({ primaryDir: 'models/xgb-v1' }, paper, log);
    const provider = new RegistryModelProvider({ registry: r, fallback, refreshMs: 60_000, log, ...paper });
    await provider.start();
    expect(provider.describe()).toMatchObject({ source: 'registry', model: { name: 'xgb-v1' } });

    const inFlight = provider.acquire()!;
    const dir = copyAs('xgb-r2');
    await r.addCandidate({ version: 'xgb-r2', dir, card: JSON.parse(readFileSync(path.join(dir, 'card.json'), 'utf8')), codeVersion: 'git:test', candidateOf: 'wf-r2' });
    await r.promote('xgb-r2', 'test', 'by hand', paper);
    await provider.refresh();
    expect(provider.describe().model!.name).toBe('xgb-r2');
    // The score that started on xgb-v1 still runs on it after the swap.
    const row = new Float32Array(24).fill(0.01);
    expect((await inFlight.model.run(row, 1)).length).toBe(3);
    inFlight.release();

    // A model whose ONNX disagrees with its parity sample is not used: the current one keeps serving.
    const broken = copyAs('xgb-r3');
    const sample = JSON.parse(readFileSync(path.join(broken, 'parity-sample.json'), 'utf8'));
    sample.probabilities[0][0] += 0.01;
    writeFileSync(path.join(broken, 'parity-sample.json'), JSON.stringify(sample));
    await r.addCandidate({ version: 'xgb-r3', dir: broken, card: JSON.parse(readFileSync(path.join(broken, 'card.json'), 'utf8')), codeVersion: 'git:test', candidateOf: 'wf-r3' });
    await r.promote('xgb-r3', 'test', 'by hand', paper);
    await provider.refresh();
    expect(provider.describe().model!.name).toBe('xgb-r2');
    expect(provider.describe().loadErrors[0]).toMatch(/xgb-r3: ONNX parity check failed/);
    await provider.close();
  });
});
