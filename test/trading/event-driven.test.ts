import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ScriptedSignalSource, type SignalSource } from '../../activities/signal-source.js';
import { loadConfig } from '../../core/config.js';
import type { TradingParams } from '../../core/params.js';
import type { Candle, ScoredSignal } from '../../core/types.js';
import { ManualFeed } from '../../exchange/sim/feed.js';
import { startLocalExchange, type FeedOptions, type LocalExchange } from '../../exchange/sim/server.js';
import { sleep } from '../../infra/sleep.js';
import { startWorker, type RunningWorker } from '../../worker/runtime.js';
import { positionStateQuery, positionWorkflowId, symbolStateQuery, symbolWorkflowId } from '../../workflows/contracts.js';
import type { PositionLifecycle } from '../../core/position-lifecycle.js';
import { exitLevels } from '../../core/exits.js';
import { symbolWorkflow } from '../../workflows/symbol.js';
import { createTestJournal } from '../helpers/db.js';
import { captureHistory } from './capture.js';
import { TEST_PARAMS, eventually, uniqueSymbol } from './harness.js';

/**
 * Event-driven mode end to end: the local exchange's market streams, the real worker (startWorker: its
 * market-data service, loop waker, activities and workflows) on the shared Temporal server, scripted
 * signals that record when each loop evaluates. Time bounds are generous for a loaded machine; the
 * latency figures are `npm run bench:latency`'s.
 */

/** Scripted signals that note the wall time of every evaluation. */
class RecordingSignals implements SignalSource {
  readonly needsCandles = false;
  readonly script = new ScriptedSignalSource();
  readonly evaluations: { symbol: string; at: number }[] = [];
  score(symbol: string, candles: Candle[]): Promise<ScoredSignal> {
    this.evaluations.push({ symbol, at: Date.now() });
    return this.script.score(symbol, candles);
  }
  of(symbol: string, after = 0): number[] {
    return this.evaluations.filter((e) => e.symbol === symbol && e.at > after).map((e) => e.at);
  }
}

const REPLAY_DATA = 'test/fixtures/ml-slice';
/** Two days into the slice: enough history for the worker's candle store. */
const REPLAY_START = Date.UTC(2025, 8, 3);
/** 60x: a 5-minute candle closes every 5 s. */
const REPLAY_SPEED = 60;

interface Setup {
  symbol: string;
  exchange: LocalExchange;
  worker: RunningWorker;
  signals: RecordingSignals;
  client: Client;
  taskQueue: string;
  closes: number[];
  /** A price on the exchange's manual feed (published on its streams at once). */
  setPrice(price: number): Promise<void>;
  startLoop(params: Partial<TradingParams>): Promise<void>;
  /** Stop the worker and start a new one on the same exchange, journal and task queue. */
  restartWorker(): Promise<void>;
  close(): Promise<void>;
}

/** A worker with `env` on its own exchange: a replayed copy of real klines under a fresh symbol, or a manual feed. */
async function setUp(feed: 'replay' | 'manual', env: Record<string, string>): Promise<Setup> {
  const symbol = uniqueSymbol();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qt-events-'));
  copyFileSync(path.join(REPLAY_DATA, 'ETHUSDT.csv.gz'), path.join(dir, `${symbol}.csv.gz`));
  const feedOptions: FeedOptions = feed === 'replay' ? { kind: 'replay', dir, speed: REPLAY_SPEED, start: REPLAY_START } : { kind: 'manual', prices: { [symbol]: 100 } };
  const exchange = await startLocalExchange({ port: 0, feed: feedOptions, tickMs: 100 });
  const taskQueue = `test-events-${randomBytes(4).toString('hex')}`;
  const config = loadConfig({ QT_SYMBOLS: symbol, QT_TASK_QUEUE: taskQueue, QT_HEALTH_PORT: '0', ...env });
  const db = await createTestJournal();
  const signals = new RecordingSignals();
  const temporalAddress = inject('temporalAddress');
  const quiet = pino({ level: process.env.QT_TEST_VERBOSE ? 'info' : 'silent' });
  const closes: number[] = [];
  const start = async () => {
    const w = await startWorker(config, { temporalAddress, databaseUrl: db.url, exchangeUrl: exchange.baseUrl, credentials: null }, { log: quiet, signals });
    w.marketData.on('candleClosed', (e) => e.symbol === symbol && closes.push(e.readyAt));
    return w;
  };
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection });
  const setup: Setup = {
    symbol,
    exchange,
    worker: await start(),
    signals,
    client,
    taskQueue,
    closes,
    async setPrice(price) {
      const res = await fetch(`${exchange.baseUrl}/admin/price`, { method: 'POST', body: JSON.stringify({ symbol, price }) });
      if (!res.ok) throw new Error(`admin/price ${res.status}`);
    },
    async startLoop(params) {
      await client.workflow.start(symbolWorkflow, {
        workflowId: symbolWorkflowId(symbol),
        taskQueue,
        args: [{ symbol, params: { ...TEST_PARAMS, ...params }, flags: { aiTradingEnabled: true, executionEnabled: true } }],
      });
    },
    async restartWorker() {
      await setup.worker.shutdown();
      setup.worker = await start();
    },
    async close() {
      await client.workflow.getHandle(symbolWorkflowId(symbol)).terminate('test finished').catch(() => {});
      await setup.worker.shutdown();
      await connection.close();
      await exchange.close();
      await db.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return setup;
}

/** One worker on its own exchange for the tests of a describe block. */
function workerFor(feed: 'replay' | 'manual', env: Record<string, string>): () => Setup {
  let s: Setup | undefined;
  beforeAll(async () => {
    s = await setUp(feed, env);
  });
  afterAll(async () => s?.close());
  return () => s!;
}

/** Start the loop and wait for its first evaluation (its wall time). */
async function startedLoop(s: Setup, params: Partial<TradingParams>): Promise<number> {
  await s.startLoop(params);
  return eventually(async () => s.signals.of(s.symbol)[0], `${s.symbol}'s first evaluation`, 30_000);
}

describe('event-driven loop: candle closes wake it', () => {
  // Mark moves must not wake it here: only candle closes.
  const worker = workerFor('replay', { QT_EVENT_DRIVEN_MODE: 'true', QT_EVENT_MOVE_PCT: '100' });

  it('evaluates right after each candle close, long before its 60 s interval', async () => {
    const s = worker();
    const first = await startedLoop(s, { checkIntervalSeconds: 60 });
    await eventually(async () => s.closes.filter((t) => t > first).length >= 3, 'three candle closes', 30_000);
    await sleep(3_000);
    const closes = s.closes.filter((t) => t > first).slice(0, 3);
    const evaluations = s.signals.of(s.symbol, first);
    for (const close of closes) {
      // Evaluated after the close, well before the next close (5 s) and the interval (60 s).
      expect(evaluations.some((e) => e >= close && e - close < 3_000), `an evaluation within 3 s of the close at ${close}`).toBe(true);
    }
    // One evaluation per close (none from the timer in this window): nothing runaway. Counted from the first
    // close: one that arrived while the loop's first pass was still claiming its symbol gets a pass of its own.
    const window = evaluations.filter((e) => e >= closes[0]! && e <= closes[2]! + 3_000);
    expect(window.length).toBe(3);
    await captureHistory(symbolWorkflowId(s.symbol), 'symbol-event-wakes');
  });
});

describe('event-driven loop: off', () => {
  const worker = workerFor('replay', { QT_EVENT_DRIVEN_MODE: 'false' });

  it('evaluates on its timer only: candle closes in between wake nothing', async () => {
    const s = worker();
    const first = await startedLoop(s, { checkIntervalSeconds: 12 });
    const second = await eventually(async () => s.signals.of(s.symbol, first)[0], 'the second evaluation', 30_000);
    const closesBetween = s.closes.filter((t) => t > first && t < second);
    expect(closesBetween.length).toBeGreaterThanOrEqual(1);
    // The timer's interval (12 s after the first one's due time), not a close: with closes every 5 s, a woken
    // loop would have evaluated within about 6 s of the first evaluation.
    expect(second - first).toBeGreaterThan(9_000);
  });
});

describe('event-driven loop: mark moves wake it', () => {
  const worker = workerFor('manual', { QT_EVENT_DRIVEN_MODE: 'true', QT_EVENT_MOVE_PCT: '0.5' });

  it('a move beyond QT_EVENT_MOVE_PCT since the last evaluation wakes the loop; a smaller one does not', async () => {
    const s = worker();
    const first = await startedLoop(s, { checkIntervalSeconds: 60 });
    await sleep(2_500); // past the wake gap of anything from the start
    const before = s.signals.of(s.symbol).length;
    await s.setPrice(100.3); // 0.3 % from the mark at the last evaluation
    await sleep(3_000);
    expect(s.signals.of(s.symbol).length).toBe(before);
    const movedAt = Date.now();
    await s.setPrice(100.8); // 0.8 %
    const woken = await eventually(async () => s.signals.of(s.symbol, movedAt)[0], 'an evaluation after the move', 10_000);
    expect(woken - movedAt).toBeLessThan(5_000);
    expect(woken - first).toBeLessThan(60_000);
  });
});

describe('exits on the mark stream', () => {
  const worker = workerFor('manual', { QT_EVENT_DRIVEN_MODE: 'true', QT_EVENT_MOVE_PCT: '50' });

  const sells = async (s: Setup) => {
    const state = (await (await fetch(`${s.exchange.baseUrl}/admin/state`)).json()) as { fills: { symbol: string; side: string; price: string }[] };
    return state.fills.filter((f) => f.symbol === s.symbol && f.side === 'SELL');
  };

  it('a mark crossing take profit reaches the position at once and exits; one absurd mark does not', async () => {
    const s = worker();
    // The position's own REST poll is 30 s (60 s once the stream watches it): a quick exit is the stream's.
    const pos = await watchedPosition(s, { checkIntervalSeconds: 60, positionCheckSeconds: 30 });

    // One bad print far beyond take profit: a single mark update, the next one back near the entry, both
    // published in one turn of the exchange's event loop (a price that stays is confirmed by the next update
    // or a REST read, as two REST reads would confirm it).
    for (const price of [10_000, 100.1]) {
      const feed = s.exchange.feed as ManualFeed;
      feed.setPrice(s.symbol, price);
      s.exchange.engine.onPriceSet(s.symbol, feed.price(s.symbol)!);
      s.exchange.streams.publishSymbol(s.symbol);
    }
    await sleep(3_000);
    const after = (await pos.handle.query(positionStateQuery)).state as PositionLifecycle;
    expect(after.stage, JSON.stringify({ exitReason: after.exitReason, lastMark: after.lastMark, marks: after.marks, sells: await sells(s) })).toBe('OPEN');
    expect(await sells(s)).toEqual([]);

    const { takeProfit } = exitLevels('LONG', pos.state.entryPrice, pos.params);
    const crossedAt = Date.now();
    await s.setPrice(Number((takeProfit * 1.002).toFixed(3)));
    await eventually(async () => (await sells(s)).length > 0, 'the exit order', 10_000);
    const exitLatency = Date.now() - crossedAt;
    expect(exitLatency).toBeLessThan(5_000);
    const report = await pos.handle.result();
    expect(report.exitReason).toBe('TAKE_PROFIT');
    // Its report holds the symbol back until no watch may send its armed exit any more.
    expect(report.armedUntil).toBeGreaterThan(report.at);
    const loop = s.client.workflow.getHandle(symbolWorkflowId(s.symbol));
    await eventually(async () => (await loop.query(symbolStateQuery)).cooldownUntil >= report.armedUntil!, 'the loop to hold the symbol back until then');
    expect(s.worker.marketEvents!.exits.stats()).toMatchObject({ watched: 0 });
    expect(s.worker.marketEvents!.exits.stats().crossings).toBeGreaterThanOrEqual(1);
    // The armed exit went out from the stream; the position's own send of the id found it: one exit order.
    expect(s.worker.marketEvents!.exits.stats().sent).toBe(1);
    const state = (await (await fetch(`${s.exchange.baseUrl}/admin/state`)).json()) as { orders: { symbol: string; clientOrderId: string }[] };
    expect(state.orders.filter((o) => o.symbol === s.symbol && /-X\d+$/.test(o.clientOrderId)).map((o) => o.clientOrderId.replace(/^.*-/, ''))).toEqual(['X1']);
    await captureHistory(pos.handle.workflowId, 'position-armed-exit-on-stream');
  });
});

describe('exits when the mark stream is dead', () => {
  const worker = workerFor('manual', { QT_EVENT_DRIVEN_MODE: 'true', QT_EVENT_MOVE_PCT: '50', QT_STREAM_STALE_SECONDS: '2' });

  it('a stale symbol sends its positions back to reading the exchange, which still takes profit', async () => {
    const s = worker();
    const pos = await watchedPosition(s, { checkIntervalSeconds: 60, positionCheckSeconds: 1 });
    await sleep(1_500); // the position's reads are a minute apart now
    const stallMs = 20_000;
    const stalledAt = Date.now();
    await fetch(`${s.exchange.baseUrl}/admin/faults`, { method: 'POST', body: JSON.stringify({ streamStall: { ms: stallMs } }) });
    await eventually(async () => s.worker.marketData.isStale(s.symbol), 'the symbol to go stale', 10_000);
    const { takeProfit } = exitLevels('LONG', pos.state.entryPrice, pos.params);
    await s.setPrice(Number((takeProfit * 1.002).toFixed(3)));
    expect((await pos.handle.result()).exitReason).toBe('TAKE_PROFIT');
    // Read over REST while the stream was still silent, not a minute later.
    expect(Date.now() - stalledAt).toBeLessThan(stallMs);
    expect(s.worker.marketEvents!.exits.stats().crossings).toBe(0);
  });
});

describe('exits on the stream after a worker restart', () => {
  const worker = workerFor('manual', { QT_EVENT_DRIVEN_MODE: 'true', QT_EVENT_MOVE_PCT: '50' });

  it('the new worker learns the open position\'s levels at start and exits it on the stream', async () => {
    const s = worker();
    const pos = await watchedPosition(s, { checkIntervalSeconds: 60, positionCheckSeconds: 30 });
    await sleep(1_000); // the position's next read is a minute away
    const restartedAt = Date.now();
    await s.restartWorker();
    expect(s.worker.marketEvents!.exits.stats().watched).toBe(0);
    // Asked at start, not at the position's next read a minute later.
    await eventually(async () => s.worker.marketEvents!.exits.stats().watched === 1, 'the watch registered again', 30_000);
    expect(Date.now() - restartedAt).toBeLessThan(45_000);
    const { takeProfit } = exitLevels('LONG', pos.state.entryPrice, pos.params);
    const crossedAt = Date.now();
    await s.setPrice(Number((takeProfit * 1.002).toFixed(3)));
    expect((await pos.handle.result()).exitReason).toBe('TAKE_PROFIT');
    expect(Date.now() - crossedAt).toBeLessThan(15_000);
    expect(s.worker.marketEvents!.exits.stats().crossings).toBeGreaterThanOrEqual(1);
  });
});

/** A LONG the loop opens on a scripted BUY (then HOLD), once OPEN and its exit levels watched on the stream. */
async function watchedPosition(s: Setup, params: Partial<TradingParams>) {
  s.signals.script.set(s.symbol, 'BUY', 0.9);
  await s.startLoop(params);
  const pos = await openedPosition(s);
  s.signals.script.set(s.symbol, 'HOLD', 0.9);
  await eventually(async () => s.worker.marketEvents!.exits.stats().watched === 1, 'the exit watch registered');
  return pos;
}

/** The position the loop opened, once OPEN. */
async function openedPosition(s: Setup) {
  const loop = s.client.workflow.getHandle(symbolWorkflowId(s.symbol));
  const id = await eventually(async () => (await loop.query(symbolStateQuery)).openPositionId, `${s.symbol} to open`, 30_000);
  const handle = s.client.workflow.getHandle(positionWorkflowId(id));
  const p = await eventually(async () => {
    const q = await handle.query(positionStateQuery);
    return q.state.stage === 'OPEN' ? q : null;
  }, `${id} to be OPEN`, 30_000);
  return { ...p, state: p.state as PositionLifecycle, handle };
}
