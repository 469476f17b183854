import { writeFileSync } from 'node:fs';
import type { Candle } from '../core/types.js';
import { SIGNAL_CLASSES } from '../core/types.js';
import { ATR_NORM_COLUMN, CandleError, FEATURE_NAMES, FeatureBuilder, WARMUP_CANDLES } from '../core/features.js';
import { DEFAULT_TRADE_COSTS, LABEL_UNKNOWN, labelHorizonMs, tripleBarrierLabels } from '../core/labels.js';
import { DEFAULT_PARAMS, type TradingParams, exitModeOf } from '../core/params.js';
import type { IntrabarMode } from '../core/intrabar.js';
import { inferIntervalMs, loadCandlesDir } from '../exchange/klines-file.js';
import { Progress } from './progress.js';
import { writeNpy } from './npy.js';

/** Columns of the `.meta.npy` companion (float64: exact for ms timestamps). */
export const META_COLUMNS = ['time', 'symbol_id', 'label', 'long_return', 'short_return'] as const;

export interface Dataset {
  rows: number;
  features: Float32Array;
  meta: Float64Array;
  symbols: string[];
  intervalMs: number;
}

/**
 * Feature rows of one symbol, one per closed candle (null in warm-up). A gap or a bad candle restarts
 * the warm-up, exactly as the live loop would refuse to score across it.
 */
export function featureRows(candles: readonly Candle[], intervalMs: number): (Float32Array | null)[] {
  const b = new FeatureBuilder({ intervalMs });
  return candles.map((c) => {
    try {
      return b.push(c);
    } catch (e) {
      if (!(e instanceof CandleError)) throw e;
      b.reset();
      return b.push(c);
    }
  });
}

export interface BuildOptions {
  dataDir: string;
  symbols?: string[];
  /** Rows start at this open time; earlier candles are warm-up only. */
  from?: number;
  /** Rows end before this open time; labels never look past it. */
  to?: number;
  params?: TradingParams;
  /** How labels walk each candle (core/intrabar.ts); default `path`. */
  intrabar?: IntrabarMode;
  progress?: boolean;
}


export function buildDataset(opts: BuildOptions): Dataset {
  const params = opts.params ?? DEFAULT_PARAMS;
  const from = opts.from ?? -Infinity;
  const to = opts.to ?? Infinity;
  const data = loadCandlesDir(opts.dataDir, opts.symbols);
  const symbols = [...data.keys()];
  const featureChunks: Float32Array[] = [];
  const metaChunks: Float64Array[] = [];
  let intervalMs = 0;
  const bar = new Progress('dataset', symbols.length, opts.progress ?? true);
  symbols.forEach((symbol, id) => {
    const candles = data.get(symbol)!.filter((c) => c.openTime < to);
    const iv = inferIntervalMs(candles);
    if (intervalMs && iv !== intervalMs) throw new Error(`${symbol}: interval ${iv} ms differs from ${intervalMs} ms of the other symbols`);
    intervalMs = iv;
    const rows = featureRows(candles, iv);
    // ATR exits take their distances from the decision candle's atr_14_norm, as the agent does.
    const atrNorm = rows.map((r) => (r ? r[ATR_NORM_COLUMN]! : NaN));
    const lab = tripleBarrierLabels(candles, params, iv, DEFAULT_TRADE_COSTS, { intrabar: opts.intrabar ?? 'path', atrNorm });
    // Only rows whose whole label horizon lies inside the data: near the end (or --to) a trade that
    // happened to settle early would otherwise be kept and one that runs to the time limit dropped,
    // biasing the last hours toward decisive moves.
    const horizon = labelHorizonMs(params, iv);
    const dataEnd = candles.length ? candles[candles.length - 1]!.openTime + iv : 0;
    const keep: number[] = [];
    for (let t = 0; t < candles.length; t++) {
      const time = candles[t]!.openTime;
      if (time >= from && time + iv + horizon <= dataEnd && rows[t] && lab.labels[t] !== LABEL_UNKNOWN) keep.push(t);
    }
    const f = new Float32Array(keep.length * FEATURE_NAMES.length);
    const m = new Float64Array(keep.length * META_COLUMNS.length);
    keep.forEach((t, r) => {
      f.set(rows[t]!, r * FEATURE_NAMES.length);
      m.set([candles[t]!.openTime, id, lab.labels[t]!, lab.longReturn[t]!, lab.shortReturn[t]!], r * META_COLUMNS.length);
    });
    featureChunks.push(f);
    metaChunks.push(m);
    bar.update(id + 1, symbol);
  });
  bar.done();
  const rows = metaChunks.reduce((s, m) => s + m.length / META_COLUMNS.length, 0);
  return { rows, features: concat(featureChunks, Float32Array), meta: concat(metaChunks, Float64Array), symbols, intervalMs };
}

function concat<T extends Float32Array | Float64Array>(parts: T[], Ctor: { new (n: number): T }): T {
  const out = new Ctor(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p as never, at);
    at += p.length;
  }
  return out;
}

/** Paths of a dataset: `--out X.json` (or X) names the sidecar; matrices sit next to it. */
export function datasetPaths(out: string): { json: string; features: string; meta: string } {
  const base = out.replace(/\.json$/, '');
  return { json: `${base}.json`, features: `${base}.features.npy`, meta: `${base}.meta.npy` };
}

export function writeDataset(ds: Dataset, out: string, opts: BuildOptions): { json: string; features: string; meta: string } {
  const paths = datasetPaths(out);
  const params = opts.params ?? DEFAULT_PARAMS;
  writeNpy(paths.features, ds.features, [ds.rows, FEATURE_NAMES.length]);
  writeNpy(paths.meta, ds.meta, [ds.rows, META_COLUMNS.length]);
  const [first, last] = timeRange(ds.meta);
  const sidecar = {
    format: 'qt-dataset/1',
    rows: ds.rows,
    featureNames: FEATURE_NAMES,
    metaColumns: META_COLUMNS,
    featuresFile: paths.features.split('/').pop(),
    metaFile: paths.meta.split('/').pop(),
    symbols: ds.symbols,
    classes: SIGNAL_CLASSES,
    intervalMs: ds.intervalMs,
    warmupCandles: WARMUP_CANDLES,
    firstTime: ds.rows ? new Date(first).toISOString() : null,
    lastTime: ds.rows ? new Date(last).toISOString() : null,
    from: Number.isFinite(opts.from) ? new Date(opts.from!).toISOString() : null,
    to: Number.isFinite(opts.to) ? new Date(opts.to!).toISOString() : null,
    label: {
      kind: 'triple-barrier',
      definition:
        'Entry at the next candle open (MARKET, slippage), exits (distances fixed from the decision candle) walked on the 15 s intrabar path through core/exits.ts ' +
        '(take-profit, stop-loss, trailing stop, time limit), both taker fee legs and exit slippage charged. ' +
        'BUY if the long nets > 0 and beats the short, SELL symmetrically, else HOLD.',
      horizonMs: labelHorizonMs(params, ds.intervalMs || 300_000),
      intrabar: opts.intrabar ?? 'path',
      params: {
        exitMode: exitModeOf(params),
        takeProfitPct: params.takeProfitPct, stopLossPct: params.stopLossPct, trailingStopPct: params.trailingStopPct,
        trailingActivationPct: params.trailingActivationPct, maxHoldSeconds: params.maxHoldSeconds,
        ...(exitModeOf(params) === 'atr'
          ? { takeProfitAtr: params.takeProfitAtr, stopLossAtr: params.stopLossAtr, trailingStopAtr: params.trailingStopAtr, trailingActivationAtr: params.trailingActivationAtr }
          : {}),
      },
      costs: DEFAULT_TRADE_COSTS,
    },
  };
  writeFileSync(paths.json, JSON.stringify(sidecar, null, 2));
  return paths;
}

/** First and last row time (one pass: Math.min(...rows) overflows the stack on millions of values). */
function timeRange(meta: Float64Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < meta.length; i += META_COLUMNS.length) {
    const t = meta[i]!;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  return [lo, hi];
}
