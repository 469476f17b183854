/**
 * Position size by confidence: `minSizeFraction` of the full notional at the threshold, rising
 * linearly to the full notional at confidence 1. Below the threshold there is no trade (0).
 */
export function sizeFraction(confidence: number, threshold: number, minSizeFraction: number): number {
  if (!(confidence >= threshold)) return 0;
  if (threshold >= 1) return 1;
  const t = Math.min(1, (confidence - threshold) / (1 - threshold));
  return minSizeFraction + (1 - minSizeFraction) * t;
}

export function targetNotional(confidence: number, p: { confidenceThreshold: number; minSizeFraction: number; positionNotional: number }): number {
  return p.positionNotional * sizeFraction(confidence, p.confidenceThreshold, p.minSizeFraction);
}
