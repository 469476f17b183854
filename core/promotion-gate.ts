/**
 * The promotion gate: may a retrained candidate replace the ACTIVE model? Pure: it judges evidence the
 * trainer and the worker gathered (models/training/retrain.py, activities/retrain.ts).
 *
 * Every figure is on the same rows: the most recent out-of-sample block of the candidate's purged
 * walk-forward, scored by the candidate's fold model (trained only on data before the block), by the
 * ACTIVE model, by the baselines, and by the shuffled-label control. Returns are net of fees and slippage
 * per trade (the agent's exits and costs).
 */

export interface TradeFigures {
  trades: number;
  /** Mean net return per trade (0 when no trade). */
  meanNetReturn: number;
  logLoss: number | null;
}

export interface GateEvidence {
  /** The candidate was trained on permuted labels (a control run). */
  shuffledLabels: boolean;
  /** null when the card's feature list matches the pipeline; else what is wrong. */
  featureListProblem: string | null;
  /** Largest ONNX vs Python probability difference on the parity sample; null when it could not be checked. */
  parityMaxDiff: number | null;
  candidate: TradeFigures;
  /** The ACTIVE model on the same rows; null when it cannot score them (e.g. a sequence model). */
  active: (TradeFigures & { version: string }) | null;
  baselines: { alwaysHold: TradeFigures; random: TradeFigures; momentum: TradeFigures };
  /** The same training on permuted labels: what chance looks like on these rows. */
  control: TradeFigures;
}

export interface GateRules {
  minTrades: number;
  parityTolerance: number;
}

export interface GateVerdict {
  promote: boolean;
  /** Every rule the candidate failed (empty when promoted), in plain words. */
  reasons: string[];
}

const pct = (x: number): string => `${(x * 100).toFixed(3)} %`;

export function judgeCandidate(e: GateEvidence, rules: GateRules): GateVerdict {
  const reasons: string[] = [];
  const c = e.candidate;
  if (e.shuffledLabels) reasons.push('trained on shuffled labels (control run): never promoted');
  if (e.featureListProblem) reasons.push(`feature list: ${e.featureListProblem}`);
  if (e.parityMaxDiff === null) reasons.push('ONNX parity not checked');
  else if (!(e.parityMaxDiff <= rules.parityTolerance)) reasons.push(`ONNX parity ${e.parityMaxDiff.toExponential(2)} > ${rules.parityTolerance}`);
  if (c.trades < rules.minTrades) reasons.push(`${c.trades} out-of-sample trades < ${rules.minTrades} required`);
  const beat = (name: string, other: TradeFigures) => {
    if (!(c.meanNetReturn > other.meanNetReturn)) reasons.push(`net ${pct(c.meanNetReturn)} / trade does not beat ${name} (${pct(other.meanNetReturn)})`);
  };
  beat('always-HOLD', e.baselines.alwaysHold);
  beat('random entries', e.baselines.random);
  beat('momentum', e.baselines.momentum);
  if (e.active) beat(`the ACTIVE model ${e.active.version}`, e.active);
  else reasons.push('the ACTIVE model could not be scored on the same rows');
  if (c.logLoss === null || e.control.logLoss === null || !(c.logLoss < e.control.logLoss)) {
    reasons.push(`log loss ${c.logLoss?.toFixed(4) ?? '-'} is not below the shuffled-label control's ${e.control.logLoss?.toFixed(4) ?? '-'}`);
  }
  return { promote: reasons.length === 0, reasons };
}
