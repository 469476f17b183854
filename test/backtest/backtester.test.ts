import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBacktester, type Market } from '../../backtest/backtester.js';
import { holdTrack, type SignalTrack } from '../../backtest/signals.js';
import { portfolioStats } from '../../backtest/metrics.js';
import { runBacktest } from '../../backtest/run.js';
import { writeChartSvg } from '../../backtest/chart.js';
import { DEFAULT_PARAMS } from '../../core/params.js';
import { DEFAULT_RISK_LIMITS } from '../../core/risk.js';
import type { Candle } from '../../core/types.js';
import { simulateTrade } from '../../core/labels.js';
import { entryExitDistances, positionRules } from '../../core/exits.js';

const MIN5 = 300_000;
const T0 = Date.UTC(2025, 8, 1);
const flat = (i: number, p: number): Candle => ({ openTime: T0 + i * MIN5, open: p, high: p, low: p, close: p, volume: 1 });

function market(series: Candle[][], symbols: string[]): Market {
  return { symbols, candles: series, intervalMs: MIN5, from: T0 + 2 * MIN5, to: T0 + 1000 * MIN5 };
}

/** A seeded linear congruential generator in [0, 1). */
function lcg(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
}

/** `n` candles of a random walk from 50, drawn from `rnd`. */
function randomWalk(rnd: () => number, n: number): Candle[] {
  const cs: Candle[] = [];
  let p = 50;
  for (let i = 0; i < n; i++) {
    const o = p;
    const c = o * Math.exp((rnd() - 0.5) * 0.012);
    cs.push({ openTime: T0 + i * MIN5, open: o, high: Math.max(o, c) * (1 + rnd() * 0.004), low: Math.min(o, c) * (1 - rnd() * 0.004), close: c, volume: 1 });
    p = c;
  }
  return cs;
}

function buyAt(n: number, index: number, confidence: number): SignalTrack {
  const t = holdTrack(n);
  t.signal[index] = 1;
  t.confidence[index] = confidence;
  return t;
}

describe('backtester', () => {
  it('books a take-profit trade exactly as computed by hand (slippage, both taker fees, confidence sizing)', () => {
    // Candle 4 closes with BUY at 0.8; the position opens at candle 5's open (100), candle 6 gaps to 103 (> TP).
    const cs = [...Array.from({ length: 6 }, (_, i) => flat(i, 100)), ...Array.from({ length: 20 }, (_, i) => flat(6 + i, 103))];
    const params = { ...DEFAULT_PARAMS, positionNotional: 100 };
    const r = runBacktester(market([cs], ['BTCUSDT']), [buyAt(cs.length, 4, 0.8)], { params, limits: DEFAULT_RISK_LIMITS });
    expect(r.trades).toHaveLength(1);
    const t = r.trades[0]!;
    // Hand computation with a 100 notional: 100 * (0.5 + 0.5 * (0.8 - 0.55) / 0.45) = 77.777... (confidence is a float32)
    const notional = 100 * (0.5 + (0.5 * (Math.fround(0.8) - 0.55)) / 0.45);
    const entry = 100 * 1.0002;
    const exit = 103 * 0.9998;
    const qty = notional / entry;
    const pnl = (exit - entry) * qty - 0.0005 * (entry * qty) - 0.0005 * (exit * qty);
    expect(t.reason).toBe('TAKE_PROFIT');
    expect(t.entryTime).toBe(T0 + 5 * MIN5);
    expect(t.exitTime).toBe(T0 + 6 * MIN5);
    expect(t.notional).toBeCloseTo(notional, 10);
    expect(t.notional).toBeCloseTo(77.7778, 4);
    expect(t.entryPrice).toBeCloseTo(100.02, 10);
    expect(t.exitPrice).toBeCloseTo(102.9794, 10);
    expect(t.pnl).toBeCloseTo(pnl, 10);
    expect(t.pnl).toBeCloseTo(2.2224, 3);
    const stats = portfolioStats(r, 1000);
    expect(stats.netPnl).toBeCloseTo(pnl, 10);
    expect(stats.finalEquity).toBeCloseTo(1000 + pnl, 10);
    expect(stats.winRate).toBe(1);
  });

  it('a lone trade equals the label simulator on a random walk (same path, exits and costs)', () => {
    const rnd = lcg(11);
    for (let trial = 0; trial < 20; trial++) {
      const cs = randomWalk(rnd, 120);
      const track = buyAt(cs.length, 4, 0.9);
      if (trial % 2) track.signal[4] = 2;
      const r = runBacktester(market([cs], ['XUSDT']), [track], { params: DEFAULT_PARAMS, limits: DEFAULT_RISK_LIMITS });
      const sim = simulateTrade(cs, 5, trial % 2 ? 'SHORT' : 'LONG', DEFAULT_PARAMS, MIN5)!;
      expect(r.trades).toHaveLength(1);
      expect(r.trades[0]!.reason).toBe(sim.reason);
      expect(r.trades[0]!.exitTime).toBe(sim.exitTime);
      expect(r.trades[0]!.pnl / r.trades[0]!.notional).toBeCloseTo(sim.netReturn, 12);
    }
  });

  it('atr exits on the pessimistic path: a lone trade equals the label simulator with the distances of the decision candle', () => {
    const rnd = lcg(5);
    // A long cooldown: a quick exit must not let the same signal enter again within its candle.
    const params = { ...DEFAULT_PARAMS, exitMode: 'atr' as const, cooldownSeconds: 3600 };
    const reasons = new Set<string>();
    for (let trial = 0; trial < 20; trial++) {
      const cs = randomWalk(rnd, 120);
      const atrNorm = Float32Array.from(cs, () => 0.001 + 0.004 * rnd());
      const track = buyAt(cs.length, 4, 0.9);
      if (trial % 2) track.signal[4] = 2;
      const side = trial % 2 ? 'SHORT' : 'LONG';
      const r = runBacktester({ ...market([cs], ['XUSDT']), atrNorm: [atrNorm] }, [track], { params, limits: DEFAULT_RISK_LIMITS, intrabar: 'pessimistic' });
      const sim = simulateTrade(cs, 5, side, positionRules(params, entryExitDistances(params, atrNorm[4])), MIN5, undefined, undefined, 'pessimistic')!;
      expect(r.trades).toHaveLength(1);
      expect(r.trades[0]!.reason).toBe(sim.reason);
      expect(r.trades[0]!.exitTime).toBe(sim.exitTime);
      expect(r.trades[0]!.pnl / r.trades[0]!.notional).toBeCloseTo(sim.netReturn, 12);
      reasons.add(sim.reason);
    }
    expect(reasons.size).toBeGreaterThan(1);
  });

  it('enters nothing in atr mode where the decision candle has no ATR', () => {
    const cs = Array.from({ length: 80 }, (_, i) => flat(i, 100));
    const atrNorm = Float32Array.from(cs, () => NaN);
    const r = runBacktester({ ...market([cs], ['XUSDT']), atrNorm: [atrNorm] }, [buyAt(80, 4, 0.9)], { params: { ...DEFAULT_PARAMS, exitMode: 'atr' }, limits: DEFAULT_RISK_LIMITS });
    expect(r.trades).toHaveLength(0);
    const percent = runBacktester({ ...market([cs], ['XUSDT']), atrNorm: [atrNorm] }, [buyAt(80, 4, 0.9)], { params: DEFAULT_PARAMS, limits: DEFAULT_RISK_LIMITS });
    expect(percent.trades).toHaveLength(1);
  });

  it('respects the cooldown after an exit and one position per symbol', () => {
    // Every candle says BUY; prices jump 2 % every 6 candles so each trade ends at take-profit.
    const cs: Candle[] = [];
    for (let i = 0; i < 60; i++) cs.push(flat(i, 100 * 1.02 ** Math.floor(i / 6)));
    const track = holdTrack(cs.length);
    track.signal.fill(1);
    track.confidence.fill(0.9);
    const r = runBacktester(market([cs], ['ETHUSDT']), [track], { params: DEFAULT_PARAMS, limits: DEFAULT_RISK_LIMITS });
    expect(r.trades.length).toBeGreaterThan(3);
    for (let k = 1; k < r.trades.length; k++) {
      expect(r.trades[k]!.entryTime - r.trades[k - 1]!.exitTime).toBeGreaterThanOrEqual(DEFAULT_PARAMS.cooldownSeconds * 1000);
      expect(r.trades[k]!.entryTime).toBeGreaterThanOrEqual(r.trades[k - 1]!.exitTime);
    }
  });

  it('applies book-wide risk limits across symbols', () => {
    const a = Array.from({ length: 40 }, (_, i) => flat(i, 10));
    const b = Array.from({ length: 40 }, (_, i) => flat(i, 20));
    const limits = { ...DEFAULT_RISK_LIMITS, maxOpenPositions: 1 };
    const r = runBacktester(market([a, b], ['AUSDT', 'BUSDT']), [buyAt(40, 3, 0.9), buyAt(40, 3, 0.9)], { params: DEFAULT_PARAMS, limits });
    expect(r.riskRejections.MAX_POSITIONS).toBeGreaterThan(0);
    // Only one of the two opened (and it runs to the time limit inside the data).
    expect(new Set(r.trades.map((t) => t.symbol)).size).toBeLessThanOrEqual(1);
  });

  it('runs on a fixture directory with the shipped model and baselines, and charts it as SVG', async () => {
    const run = await runBacktest({ dataDir: 'test/fixtures/ml-slice', modelDir: 'models/xgb-v1', progress: false, from: Date.UTC(2025, 8, 3) });
    const names = run.report.strategies.map((s) => s.name);
    expect(names).toEqual(['model:xgb-v1', 'always-hold', 'random', 'momentum']);
    const hold = run.report.strategies[1]!.total;
    expect(hold.trades).toBe(0);
    expect(hold.netPnl).toBe(0);
    expect(run.report.from).toBe('2025-09-03T00:00:00.000Z');
    for (const s of run.report.strategies) {
      const perSymbolTrades = Object.values(s.perSymbol).reduce((n, x) => n + x.trades, 0);
      expect(perSymbolTrades).toBe(s.total.trades);
    }
    const dir = mkdtempSync(join(tmpdir(), 'qt-plot-'));
    writeChartSvg(join(dir, 'eq.svg'), run.curves, 1000);
    const svg = readFileSync(join(dir, 'eq.svg'), 'utf8');
    expect(svg).toMatch(/^<svg /);
    // An equity and a drawdown line per strategy, and the legend names them.
    expect(svg.match(/<path d="M/g)?.length ?? 0).toBeGreaterThanOrEqual(2 * names.length);
    for (const name of names) expect(svg).toContain(name);
    expect(() => writeChartSvg(join(dir, 'eq.png'), run.curves, 1000)).toThrow(/only \.svg/);
  });
});

describe('portfolio statistics', () => {
  it('Sharpe, Sortino and drawdown from daily P&L over a fixed capital', () => {
    const day = 86_400_000;
    // Three days of equity change: +10, -5, +10 (over capital 1000): daily returns 1 %, -0.5 %, 1 %.
    const times = Float64Array.from([0, day / 2, day, 1.5 * day, 2 * day, 2.5 * day]);
    const equity = Float64Array.from([5, 10, 7, 5, 12, 15]);
    const r = { trades: [], equity, times, exposedSteps: 0, symbolExposedSteps: [], riskRejections: {} };
    const s = portfolioStats(r, 1000);
    const d = [0.01, -0.005, 0.01];
    const mean = d.reduce((a, b) => a + b) / 3;
    const sd = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / 2);
    expect(s.sharpe).toBeCloseTo((mean / sd) * Math.sqrt(365), 10);
    expect(s.sortino).toBeCloseTo((mean / Math.sqrt(0.005 ** 2 / 3)) * Math.sqrt(365), 10);
    expect(s.maxDrawdown).toBe(5);
    expect(s.maxDrawdownPct).toBeCloseTo(5 / 1010, 12);
    expect(s.finalEquity).toBe(1015);
  });
});
