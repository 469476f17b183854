import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCandlesDir } from '../../exchange/klines-file.js';
import { runBacktest } from '../../backtest/run.js';
import { StrategySignalSource } from '../../ml/strategy-signals.js';
import { loadStrategy, strategyNames, strategyParams, withStrategyExits } from '../../strategies/index.js';
import { DEFAULT_PARAMS } from '../../core/params.js';
import type { Strategy } from '../../core/strategy.js';
import { FIXTURE_DIR, FIXTURE_START } from '../exchange/helpers.js';
import { eventually, startHarness, type Harness } from './harness.js';

/**
 * The acceptance of one-file strategies: strategies/rsi-reversion.ts, found by the registry (no list to
 * edit), trades in the paper stack (Temporal, Postgres, the local exchange replaying klines) and backtests.
 */
const SYMBOL = 'ETHUSDT';
/** Loose bands so the replay trades within seconds; the variables are the strategy's own. */
const ENV = { QT_RSI_OVERSOLD: '45', QT_RSI_OVERBOUGHT: '55', QT_RSI_MAX_MOVE_PCT: '50' };

let rsi: Strategy;
beforeAll(async () => {
  rsi = await loadStrategy('rsi-reversion');
});

describe('a strategy written as one file (strategies/rsi-reversion.ts)', () => {
  it('is discovered by the registry with its parameters from its own variables', () => {
    expect(strategyNames()).toEqual(expect.arrayContaining(['rsi-reversion', 'xgb', 'momentum']));
    expect(strategyParams(rsi, ENV)).toMatchObject({ oversold: 45, overbought: 55, maxMovePct: 50, confidence: 0.7 });
    expect(() => strategyParams(rsi, { QT_RSI_OVERSOLD: '70' })).toThrow(/^QT_RSI_OVERSOLD: .*50/);
    expect(() => strategyParams(rsi, { QT_RSI_OVERSOLD: 'low' })).toThrow(/^QT_RSI_OVERSOLD: /);
    expect(withStrategyExits(DEFAULT_PARAMS, rsi, {})).toMatchObject({ takeProfitPct: 1, stopLossPct: 1, maxHoldSeconds: 7200 });
    expect(withStrategyExits(DEFAULT_PARAMS, rsi, { QT_TAKE_PROFIT_PCT: '2' }).takeProfitPct).toBe(DEFAULT_PARAMS.takeProfitPct);
  });

  it('backtests: every entry follows the rule on the candle before it', async () => {
    const params = strategyParams(rsi, ENV);
    const run = await runBacktest({ dataDir: FIXTURE_DIR, symbols: [SYMBOL], strategy: rsi, strategyParams: params, progress: false });
    const curve = run.curves.find((c) => c.name === 'strategy:rsi-reversion')!;
    expect(run.report.strategies[0]!.name).toBe('strategy:rsi-reversion');
    expect(run.settings.params.takeProfitPct).toBe(1); // the strategy's exits
    expect(curve.trades.length).toBeGreaterThan(5);
    const candles = loadCandlesDir(FIXTURE_DIR, [SYMBOL]).get(SYMBOL)!;
    const { rsi: rsiOf } = await import('../../strategies/rsi-reversion.js');
    for (const t of curve.trades) {
      // The signal is the last candle closed before the entry's candle opened.
      const i = candles.findIndex((c) => c.openTime + 300_000 > t.entryTime) - 1;
      const value = rsiOf(candles.slice(i - 14, i + 1));
      if (t.side === 'LONG') expect(value).toBeLessThanOrEqual(45);
      else expect(value).toBeGreaterThanOrEqual(55);
    }
    expect(new Set(curve.trades.map((t) => t.reason))).not.toContain('PROTECTIVE_STOP');
  }, 60_000);
});

describe('rsi-reversion in the paper stack', () => {
  let h: Harness;
  beforeAll(async () => {
    const source = new StrategySignalSource(rsi, strategyParams(rsi, ENV), { staleAfterMs: Number.POSITIVE_INFINITY });
    h = await startHarness({
      feed: { kind: 'replay', dir: FIXTURE_DIR, speed: 60, start: FIXTURE_START, symbols: [SYMBOL] },
      intrabarStepMs: 1_000,
      signalSource: source,
      candleHistory: source.candlesNeeded + 5,
    });
    await h.startWorker();
  });
  afterAll(async () => h?.close());

  it('enters on its own signal through the loop, the risk book and the exchange', async () => {
    await h.startSymbol(SYMBOL, withStrategyExits({ ...DEFAULT_PARAMS, checkIntervalSeconds: 1, positionCheckSeconds: 1, positionNotional: 100 }, rsi, {}));
    const entered = await eventually(async () => {
      const rows = await h.journal.recentSignals({ sinceMs: 600_000, symbol: SYMBOL, limit: 500 });
      return rows.find((r) => r.decision === 'ENTER') ?? null;
    }, 'an RSI entry', 90_000);
    expect(entered.model).toBe('rsi-reversion');
    expect(['BUY', 'SELL']).toContain(entered.signal);
    expect(entered.confidence).toBeCloseTo(0.7, 6);
    await eventually(async () => (await h.adminState()).fills.some((f) => f.symbol === SYMBOL), 'the entry to fill on the exchange', 30_000);
    const holds = (await h.journal.recentSignals({ sinceMs: 600_000, symbol: SYMBOL, limit: 500 })).filter((r) => r.decision === 'HOLD');
    expect(holds.every((r) => r.model === 'rsi-reversion')).toBe(true);
  }, 150_000);
});
