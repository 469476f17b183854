/** How exit distances are given: fixed percentages, or multiples of the decision candle's ATR. */
export const EXIT_MODES = ['percent', 'atr'] as const;
export type ExitMode = (typeof EXIT_MODES)[number];

/** One numeric parameter: its environment variable, meaning, bounds and default. */
interface NumericSpec {
  env: string;
  description: string;
  min: number;
  max: number;
  default: number;
  integer?: boolean;
}

const param = (env: string, description: string, min: number, max: number, dflt: number, integer = false): NumericSpec => ({
  env,
  description,
  min,
  max,
  default: dflt,
  ...(integer ? { integer } : {}),
});

/**
 * The loop and exit parameters, each declared once: bounds, default, environment variable and meaning.
 * All of them may change at runtime (`qt config set`) without a restart. They travel in workflow
 * state, so they stay plain JSON (numbers, and the exit mode's name). Percentages are in percent (1.5 = 1.5 %).
 * State recorded before a parameter existed lacks it: readers take its default (see exitModeOf).
 *
 * A plain table, not a zod schema: the workflows import this module, and the worker evaluates a workflow's modules
 * afresh for every workflow it creates (each start, continue-as-new and replay). With zod, creating a symbol
 * workflow took 27 - 33 ms; without it, 6 - 8 ms (the worker's reusable V8 context, @temporalio/worker 1.24.0).
 */
const NUMERIC = {
  checkIntervalSeconds: param('QT_CHECK_INTERVAL', 'seconds between two passes of the symbol loop', 1, 3600, 15),
  confidenceThreshold: param('QT_CONFIDENCE_THRESHOLD', 'minimum confidence of a BUY / SELL to enter', 0.34, 1, 0.55),
  cooldownSeconds: param('QT_COOLDOWN_SECONDS', 'no entry on a symbol for this long after its position closed', 0, 86_400, 180),
  takeProfitPct: param('QT_TAKE_PROFIT_PCT', 'take profit, % from entry', 0.01, 100, 1.5),
  stopLossPct: param('QT_STOP_LOSS_PCT', 'stop loss, % from entry (also placed on the exchange)', 0.01, 100, 1.0),
  trailingStopPct: param('QT_TRAILING_STOP_PCT', 'distance of the trailing stop from the best price since entry, %', 0.01, 100, 0.6),
  trailingActivationPct: param('QT_TRAILING_ACTIVATION_PCT', 'favourable move from entry after which the trailing stop arms, %', 0, 100, 0.8),
  takeProfitAtr: param('QT_TAKE_PROFIT_ATR', 'take profit in ATR 14 of the decision candle (QT_EXIT_MODE=atr)', 0.01, 100, 3),
  stopLossAtr: param('QT_STOP_LOSS_ATR', 'stop loss in ATR 14 of the decision candle (QT_EXIT_MODE=atr; also placed on the exchange)', 0.01, 100, 2),
  trailingStopAtr: param('QT_TRAILING_STOP_ATR', 'trailing stop distance in ATR 14 of the decision candle (QT_EXIT_MODE=atr)', 0.01, 100, 1.2),
  trailingActivationAtr: param('QT_TRAILING_ACTIVATION_ATR', 'favourable move, in ATR 14 of the decision candle, after which the trailing stop arms (QT_EXIT_MODE=atr)', 0, 100, 1.6),
  maxHoldSeconds: param('QT_MAX_HOLD_SECONDS', 'close a position after this long whatever the price (also the label horizon)', 60, 30 * 86_400, 4 * 60 * 60),
  positionNotional: param('QT_POSITION_NOTIONAL', 'notional in the quote asset at full confidence (position size before leverage)', 1, 10_000_000, 250),
  minSizeFraction: param('QT_MIN_SIZE_FRACTION', 'fraction of the notional used at exactly the threshold confidence', 0.01, 1, 0.5),
  leverage: param('QT_LEVERAGE', 'leverage set on each symbol', 1, 125, 5, true),
  positionCheckSeconds: param('QT_POSITION_CHECK_SECONDS', 'how often an open position re-reads the mark price', 1, 3600, 5),
} satisfies Record<string, NumericSpec>;

/** The one parameter that is not a number. */
const EXIT_MODE = {
  env: 'QT_EXIT_MODE',
  description: "percent: the four exit distances are the _PCT values; atr: multiples (the _ATR values) of the decision candle's ATR 14 / close, fixed at entry",
  default: 'percent' as ExitMode,
};

/** The parameters that are numbers (all but the exit mode). */
export type NumericParam = keyof typeof NUMERIC;
export type TradingParams = { [K in NumericParam]: number } & { exitMode: ExitMode };
type ParamKey = keyof TradingParams;
type Bounds = { min: number; max: number; integer?: boolean };
const numericKeys = Object.keys(NUMERIC) as NumericParam[];
const keys: ParamKey[] = [...numericKeys, 'exitMode'];

export const DEFAULT_PARAMS: TradingParams = {
  ...(Object.fromEntries(numericKeys.map((k) => [k, NUMERIC[k].default])) as Record<NumericParam, number>),
  exitMode: EXIT_MODE.default,
};

/** Valid range of every numeric parameter; used by env parsing and by runtime `config set` alike. */
export const PARAM_BOUNDS = Object.fromEntries(
  numericKeys.map((k) => {
    const { min, max, integer } = NUMERIC[k] as NumericSpec;
    return [k, { min, max, ...(integer ? { integer } : {}) }];
  }),
) as Record<NumericParam, Bounds>;

/** The exit mode of a parameter set, `percent` for state recorded before the mode existed. */
export function exitModeOf(p: Partial<Pick<TradingParams, 'exitMode'>>): ExitMode {
  return p.exitMode ?? 'percent';
}

/** Environment variable of each parameter (QT_ prefix), the names users see in errors and docs. */
export const PARAM_ENV = {
  ...(Object.fromEntries(numericKeys.map((k) => [k, NUMERIC[k].env])) as Record<NumericParam, string>),
  exitMode: EXIT_MODE.env,
} as Record<ParamKey, string>;

export class ParamError extends Error {}

/** Check one value against its bounds; the message names `label` (an env var or a param key). */
export function checkParam(key: NumericParam, value: number, label: string = key): number {
  const b = PARAM_BOUNDS[key];
  if (!Number.isFinite(value)) throw new ParamError(`${label} must be a number`);
  if (b.integer && !Number.isInteger(value)) throw new ParamError(`${label} must be an integer, got ${value}`);
  if (value < b.min || value > b.max) throw new ParamError(`${label} must be between ${b.min} and ${b.max}, got ${value}`);
  return value;
}

/** Parse one parameter from text or a number (env, `config set`, a strategy's exits); the message names `label`. */
export function parseParam<K extends ParamKey>(key: K, raw: unknown, label: string = key): TradingParams[K] {
  if (key === 'exitMode') {
    const mode = typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
    if (!(EXIT_MODES as readonly unknown[]).includes(mode)) throw new ParamError(`${label} must be one of ${EXIT_MODES.join('|')}, got ${String(raw)}`);
    return mode as TradingParams[K];
  }
  const value = typeof raw === 'string' ? (raw.trim() === '' ? NaN : Number(raw)) : (raw as number);
  return checkParam(key as NumericParam, value, label) as TradingParams[K];
}

/** Apply a partial change (from `qt config set`), validating every key; returns new params. */
export function applyParamChanges(current: TradingParams, changes: Partial<Record<string, unknown>>): TradingParams {
  const next = { ...current };
  for (const [k, raw] of Object.entries(changes)) {
    if (!keys.includes(k as ParamKey)) throw new ParamError(`unknown parameter ${k}; known: ${keys.join(', ')}`);
    const key = k as ParamKey;
    (next as Record<ParamKey, unknown>)[key] = parseParam(key, raw, k);
  }
  if (next.stopLossPct <= 0 || next.takeProfitPct <= 0) throw new ParamError('take profit and stop loss must be positive');
  return next;
}
