/**
 * Trading parameters that may change at runtime (`qt config set`) without a restart. They travel in
 * workflow state, so they must stay plain JSON. Percentages are in percent (1.5 = 1.5 %).
 */
export interface TradingParams {
  checkIntervalSeconds: number;
  confidenceThreshold: number;
  cooldownSeconds: number;
  takeProfitPct: number;
  stopLossPct: number;
  /** Distance of the trailing stop from the best price since entry. */
  trailingStopPct: number;
  /** Favourable move from entry after which the trailing stop arms. */
  trailingActivationPct: number;
  /** Close a position after this long whatever the price (also the label horizon). */
  maxHoldSeconds: number;
  /** Notional in the quote asset at full confidence (before leverage: this is position size). */
  positionNotional: number;
  /** Fraction of `positionNotional` used at exactly the threshold confidence. */
  minSizeFraction: number;
  leverage: number;
  /** How often an open position re-reads the mark price. */
  positionCheckSeconds: number;
}

export const DEFAULT_PARAMS: TradingParams = {
  checkIntervalSeconds: 15,
  confidenceThreshold: 0.55,
  cooldownSeconds: 180,
  takeProfitPct: 1.5,
  stopLossPct: 1.0,
  trailingStopPct: 0.6,
  trailingActivationPct: 0.8,
  maxHoldSeconds: 4 * 60 * 60,
  positionNotional: 250,
  minSizeFraction: 0.5,
  leverage: 5,
  positionCheckSeconds: 5,
};

type Bounds = { min: number; max: number; integer?: boolean };

/** Valid range of every parameter; used by env parsing and by runtime `config set` alike. */
export const PARAM_BOUNDS: Record<keyof TradingParams, Bounds> = {
  checkIntervalSeconds: { min: 1, max: 3600 },
  confidenceThreshold: { min: 0.34, max: 1 },
  cooldownSeconds: { min: 0, max: 86_400 },
  takeProfitPct: { min: 0.01, max: 100 },
  stopLossPct: { min: 0.01, max: 100 },
  trailingStopPct: { min: 0.01, max: 100 },
  trailingActivationPct: { min: 0, max: 100 },
  maxHoldSeconds: { min: 60, max: 30 * 86_400 },
  positionNotional: { min: 1, max: 10_000_000 },
  minSizeFraction: { min: 0.01, max: 1 },
  leverage: { min: 1, max: 125, integer: true },
  positionCheckSeconds: { min: 1, max: 3600 },
};

/** Environment variable for each parameter (QT_ prefix), the names users see in errors and docs. */
export const PARAM_ENV: Record<keyof TradingParams, string> = {
  checkIntervalSeconds: 'QT_CHECK_INTERVAL',
  confidenceThreshold: 'QT_CONFIDENCE_THRESHOLD',
  cooldownSeconds: 'QT_COOLDOWN_SECONDS',
  takeProfitPct: 'QT_TAKE_PROFIT_PCT',
  stopLossPct: 'QT_STOP_LOSS_PCT',
  trailingStopPct: 'QT_TRAILING_STOP_PCT',
  trailingActivationPct: 'QT_TRAILING_ACTIVATION_PCT',
  maxHoldSeconds: 'QT_MAX_HOLD_SECONDS',
  positionNotional: 'QT_POSITION_NOTIONAL',
  minSizeFraction: 'QT_MIN_SIZE_FRACTION',
  leverage: 'QT_LEVERAGE',
  positionCheckSeconds: 'QT_POSITION_CHECK_SECONDS',
};

export class ParamError extends Error {}

/** Check one value against its bounds; the message names `label` (an env var or a param key). */
export function checkParam(key: keyof TradingParams, value: number, label: string = key): number {
  const b = PARAM_BOUNDS[key];
  if (!Number.isFinite(value)) throw new ParamError(`${label} must be a number`);
  if (b.integer && !Number.isInteger(value)) throw new ParamError(`${label} must be an integer, got ${value}`);
  if (value < b.min || value > b.max) throw new ParamError(`${label} must be between ${b.min} and ${b.max}, got ${value}`);
  return value;
}

/** Apply a partial change (from `qt config set`), validating every key; returns new params. */
export function applyParamChanges(current: TradingParams, changes: Partial<Record<string, unknown>>): TradingParams {
  const next = { ...current };
  for (const [k, raw] of Object.entries(changes)) {
    if (!(k in PARAM_BOUNDS)) throw new ParamError(`unknown parameter ${k}; known: ${Object.keys(PARAM_BOUNDS).join(', ')}`);
    const key = k as keyof TradingParams;
    const value = typeof raw === 'string' ? Number(raw) : (raw as number);
    next[key] = checkParam(key, value, k);
  }
  if (next.stopLossPct <= 0 || next.takeProfitPct <= 0) throw new ParamError('take profit and stop loss must be positive');
  return next;
}
