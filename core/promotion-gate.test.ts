import { describe, expect, it } from 'vitest';
import { judgeCandidate, type GateEvidence } from './promotion-gate.js';

const fig = (trades: number, meanNetReturn: number, logLoss: number | null = null) => ({ trades, meanNetReturn, logLoss });
const good = (): GateEvidence => ({
  shuffledLabels: false,
  featureListProblem: null,
  parityMaxDiff: 2e-7,
  candidate: fig(500, 0.002, 0.9),
  active: { version: 'xgb-v1', ...fig(400, 0.001, 0.95) },
  baselines: { alwaysHold: fig(0, 0), random: fig(500, -0.001), momentum: fig(200, 0.0005) },
  control: fig(10, 0.003, 0.97),
});
const rules = { minTrades: 100, parityTolerance: 1e-5 };

describe('promotion gate', () => {
  it('promotes a candidate that passes every rule', () => {
    expect(judgeCandidate(good(), rules)).toEqual({ promote: true, reasons: [] });
  });

  it('never promotes a shuffled-label candidate, whatever its figures', () => {
    const v = judgeCandidate({ ...good(), shuffledLabels: true }, rules);
    expect(v.promote).toBe(false);
    expect(v.reasons).toEqual(['trained on shuffled labels (control run): never promoted']);
  });

  it('names every rule a candidate fails (beating random entries alone is not enough)', () => {
    const e = good();
    const v = judgeCandidate({
      ...e, featureListProblem: 'order differs', parityMaxDiff: 1e-3, candidate: fig(50, -0.0001, 0.99), active: null,
    }, rules);
    expect(v.promote).toBe(false);
    expect(v.reasons).toEqual([
      'feature list: order differs',
      'ONNX parity 1.00e-3 > 0.00001',
      '50 out-of-sample trades < 100 required',
      'net -0.010 % / trade does not beat always-HOLD (0.000 %)',
      'net -0.010 % / trade does not beat momentum (0.050 %)',
      'the ACTIVE model could not be scored on the same rows',
      "log loss 0.9900 is not below the shuffled-label control's 0.9700",
    ]);
  });

  it('refuses a candidate that does not beat the ACTIVE model, and an unchecked parity', () => {
    const v = judgeCandidate({ ...good(), active: { version: 'xgb-v1', ...fig(400, 0.0025, 0.95) }, parityMaxDiff: null }, rules);
    expect(v.reasons).toEqual(['ONNX parity not checked', 'net 0.200 % / trade does not beat the ACTIVE model xgb-v1 (0.250 %)']);
  });
});
