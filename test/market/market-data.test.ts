import { afterAll, afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { FEATURE_NAMES, FeatureBuilder } from '../../core/features.js';
import type { Candle } from '../../core/types.js';
import { BinanceFuturesAdapter } from '../../exchange/adapter.js';
import { startLocalExchange, type LocalExchange } from '../../exchange/sim/server.js';
import { MarketDataService, type CandleClosedEvent } from '../../market/market-data-service.js';
import { marketDataHealth } from '../../worker/market-data-health.js';
import { wireActivities } from '../../activities/wiring.js';
import { DEFAULT_RISK_LIMITS } from '../../core/risk.js';
import { createSignalService } from '../../ml/signal-service.js';
import { createTestJournal } from '../helpers/db.js';
import { connectTestClient, uniqueTaskQueue } from '../helpers/temporal.js';
import { sleep } from '../../infra/sleep.js';

/**
 * The worker's market-data service against the local exchange replaying real klines fast (3000x: a
 * 5-minute candle every 100 ms), through the binance package's REST and WebSocket clients: the candle
 * store always equals a batch REST fetch, the incremental features equal a batch recomputation, and a
 * dropped or stalled stream loses nothing (gaps are fetched over REST), while a stale symbol holds.
 */

const DATA = 'test/fixtures/ml-slice';
/** 2025-09-03: two days into the slice, enough history for the 420-candle store. */
const START = Date.UTC(2025, 8, 3);
const HISTORY = 420;
const quiet = pino({ level: process.env.QT_TEST_VERBOSE ? 'info' : 'silent' });

async function waitUntil(probe: () => boolean | Promise<boolean>, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('market-data service', () => {
  const exchanges: LocalExchange[] = [];
  const services: MarketDataService[] = [];
  afterEach(() => {
    for (const s of services.splice(0)) s.close();
  });
  afterAll(async () => {
    for (const ex of exchanges) await ex.close();
  });

  async function setUp(speed = 3000, staleAfterMs = 5000) {
    const ex = await startLocalExchange({ port: 0, feed: { kind: 'replay', dir: DATA, speed, start: START } });
    exchanges.push(ex);
    const rest = new BinanceFuturesAdapter({ venue: 'paper', baseUrl: ex.baseUrl, apiKey: ex.apiKey, apiSecret: ex.apiSecret, weightLimitPerMinute: Infinity });
    const md = new MarketDataService({ rest, stream: { wsUrl: ex.wsUrl, reconnectDelayMs: 100 }, history: HISTORY, featureWindow: 1, staleAfterMs, log: quiet });
    services.push(md);
    const closed: CandleClosedEvent[] = [];
    md.on('candleClosed', (e) => closed.push(e));
    return { ex, rest, md, closed };
  }

  /** The store's candles must be exactly the exchange's klines over the same range. */
  async function expectEqualsRest(md: MarketDataService, rest: BinanceFuturesAdapter, symbol: string) {
    const { candles } = await md.closedCandles(symbol);
    const batch = await rest.klines(symbol, '5m', 1500);
    const first = batch.findIndex((k) => k.openTime === candles[0]!.openTime);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(candles).toEqual(batch.slice(first, first + candles.length));
    return candles;
  }

  /** The latest feature row must equal a FeatureBuilder fed the same candles, from the same first candle, in one batch. */
  async function expectFeaturesEqualBatch(md: MarketDataService, rest: BinanceFuturesAdapter, symbol: string) {
    const latest = md.latestFeatures(symbol)!;
    expect(latest).not.toBeNull();
    const raw = await rest.klines(symbol, '5m', 1500);
    const since = raw.filter((k) => k.openTime >= latest.origin && k.openTime <= latest.candleTime);
    const b = new FeatureBuilder({ intervalMs: 300_000 });
    let row: Float32Array | null = null;
    for (const c of since) row = b.push(c);
    expect(row).not.toBeNull();
    expect(Array.from(latest.rows)).toEqual(Array.from(row!));
    expect(latest.rows.length).toBe(FEATURE_NAMES.length);
  }

  function expectContiguous(candles: readonly Candle[]) {
    for (let i = 1; i < candles.length; i++) expect(candles[i]!.openTime - candles[i - 1]!.openTime).toBe(300_000);
  }

  it('seeds over REST, appends every closing kline, and keeps candles and features equal to a batch', async () => {
    const { rest, md, closed } = await setUp();
    const marks: number[] = [];
    md.on('mark', (m) => m.symbol === 'ETHUSDT' && marks.push(m.price));
    await md.start(['ETHUSDT', 'BTCUSDT']);
    const seeded = await md.closedCandles('ETHUSDT');
    expect(seeded.candles).toHaveLength(HISTORY);
    expect(seeded.problem).toBeNull();
    expect(seeded.features).toHaveLength(FEATURE_NAMES.length);
    await waitUntil(() => closed.filter((e) => e.symbol === 'ETHUSDT').length >= 15, '15 candle closes');
    const eth = closed.filter((e) => e.symbol === 'ETHUSDT');
    expectContiguous(eth.map((e) => e.candle));
    for (const e of eth) {
      expect(e.features).toHaveLength(FEATURE_NAMES.length);
      expect(e.readyAt).toBeGreaterThanOrEqual(e.receivedAt);
    }
    expect(marks.length).toBeGreaterThanOrEqual(1);
    const candles = await expectEqualsRest(md, rest, 'ETHUSDT');
    expect(candles).toHaveLength(HISTORY);
    expect(candles[candles.length - 1]!.openTime).toBeGreaterThanOrEqual(eth[eth.length - 1]!.candle.openTime);
    await expectFeaturesEqualBatch(md, rest, 'ETHUSDT');
    await expectEqualsRest(md, rest, 'BTCUSDT');
    expect(md.status()).toMatchObject({ symbols: 2, stale: [], problems: {}, malformed: 0 });
  });

  it('loses no candle when the stream is dropped: the client reconnects, resubscribes, and the gap is fetched', async () => {
    const { ex, rest, md, closed } = await setUp();
    await md.start(['SOLUSDT']);
    await waitUntil(() => closed.length >= 3, 'closes before the drop');
    await fetch(`${ex.baseUrl}/admin/faults`, { method: 'POST', body: JSON.stringify({ streamDrop: { count: 1 } }) });
    await waitUntil(() => md.status().connections[0]!.reconnects >= 1, 'the reconnection');
    const at = closed.length;
    await waitUntil(() => closed.length >= at + 10, 'closes after the reconnection');
    expectContiguous(closed.map((e) => e.candle));
    expect(md.status().gapFills).toBeGreaterThanOrEqual(1);
    await expectEqualsRest(md, rest, 'SOLUSDT');
    await expectFeaturesEqualBatch(md, rest, 'SOLUSDT');
  });

  it('seeding during a 429 burst asks again when the Retry-After runs out, not after a doubling backoff', async () => {
    const { ex, rest, md } = await setUp();
    // Three answers of 429 with Retry-After 1 s: asked again as told, the third try after ~2 s gets through
    // (a doubling backoff of 1, 2 and 4 s would take about 7 s).
    await fetch(`${ex.baseUrl}/admin/faults`, { method: 'POST', body: JSON.stringify({ burst429: { count: 3, retryAfterSec: 1 } }) });
    const started = Date.now();
    await md.start(['ETHUSDT']);
    expect((await md.closedCandles('ETHUSDT')).problem).toMatch(/klines over REST failed.*(-1003|rate limited)/);
    await waitUntil(async () => (await md.closedCandles('ETHUSDT')).problem === null, 'the candles after the burst', 10_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    await expectEqualsRest(md, rest, 'ETHUSDT');
  });

  it('a stalled stream makes the symbol stale (HOLD, /health warns), and it recovers without losing a candle', async () => {
    const { ex, rest, md, closed } = await setUp(3000, 1200);
    // The real signal path: the xgb-v1 model scoring the store's candles and feature rows.
    const signals = await createSignalService({ primaryDir: 'models/xgb-v1', staleAfterMs: Number.POSITIVE_INFINITY, logger: quiet });
    const db = await createTestJournal();
    const temporal = await connectTestClient();
    const { activities } = wireActivities({
      exchange: rest, journal: db.journal, signals, candleHistory: HISTORY, candles: md, risk: () => DEFAULT_RISK_LIMITS, log: quiet, summaryWindowMs: 1000,
      temporal: { client: temporal.client, taskQueue: uniqueTaskQueue('market-data') },
    });
    const evaluate = () => activities.evaluateSignal({ workflowId: 'test', symbol: 'DOGEUSDT' });
    try {
      await md.start(['DOGEUSDT']);
      await waitUntil(() => closed.length >= 2 && md.status().stale.length === 0, 'closes before the stall');
      expect((await evaluate()).model).toBe('xgb-v1');
      await fetch(`${ex.baseUrl}/admin/faults`, { method: 'POST', body: JSON.stringify({ streamStall: { ms: 2500 } }) });
      await waitUntil(() => md.isStale('DOGEUSDT'), 'the symbol to go stale', 4000);
      const during = await md.closedCandles('DOGEUSDT');
      expect(during.problem).toMatch(/^stale market stream: no mark price for \d+ s/);
      expect(await evaluate()).toMatchObject({ signal: 'HOLD', holdReason: expect.stringMatching(/^stale market stream/) });
      const health = marketDataHealth(md);
      expect(health.warning).toMatch(/stale market stream \(no mark price\), holding: DOGEUSDT/);
      await waitUntil(() => !md.isStale('DOGEUSDT'), 'the symbol to be fresh again', 8000);
      await waitUntil(async () => (await md.closedCandles('DOGEUSDT')).problem === null, 'the gap to be filled');
      const scored = await evaluate();
      expect(scored.model).toBe('xgb-v1');
      expect(scored.holdReason).toBeUndefined();
    } finally {
      await signals.close();
      await temporal.close();
      await db.cleanup();
    }
    const at = closed.length;
    await waitUntil(() => closed.length >= at + 5, 'closes after the stall');
    expectContiguous(closed.map((e) => e.candle));
    expect((await md.closedCandles('DOGEUSDT')).problem).toBeNull();
    expect(marketDataHealth(md).warning).toBeUndefined();
    await expectEqualsRest(md, rest, 'DOGEUSDT');
    await expectFeaturesEqualBatch(md, rest, 'DOGEUSDT');
  });

  it('follows a symbol it was not started with on first use', async () => {
    const { rest, md } = await setUp(300);
    await md.start(['BTCUSDT']);
    const late = await md.closedCandles('ETHUSDT');
    expect(late.candles).toHaveLength(HISTORY);
    expect(late.problem).toBeNull();
    await waitUntil(() => md.status().connections[0]!.symbols === 2, 'the second symbol on the connection');
    await expectEqualsRest(md, rest, 'ETHUSDT');
  });
});
