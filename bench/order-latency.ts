/**
 * Market event -> order acknowledged by the local exchange, through the whole event-driven path: the local
 * exchange's streams, the real worker (startWorker: market-data service, loop waker, exit watcher,
 * activities, workflows) on a Temporal dev server and Postgres, the `binance` client for orders. Part of
 * `npm run bench:latency`.
 *
 * Each round: one group's loops are scripted to BUY, the exchange closes the 5-minute candle of every symbol
 * at once (its clock moved to the boundary, then one publication) -> each loop is woken, evaluates, reserves
 * in the risk book and its position workflow sends the entry: candle close -> entry order acknowledged (the
 * exchange's own time of the order). Then, one symbol at a time, the mark is moved through take profit ->
 * the exit watcher sends the exit the position armed and tells the position, which confirms it: mark
 * crossing -> exit order acknowledged.
 * Loops time out after an hour and positions read the exchange every minute, so every order is the stream's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { ScriptedSignalSource } from '../activities/signal-source.js';
import { loadConfig } from '../core/config.js';
import { mapLimit } from '../core/map-limit.js';
import type { PositionLifecycle } from '../core/position-lifecycle.js';
import { BinanceFuturesAdapter } from '../exchange/adapter.js';
import { ManualFeed } from '../exchange/sim/feed.js';
import { startLocalExchange } from '../exchange/sim/server.js';
import { startEmbeddedPostgres } from '../infra/postgres.js';
import { sleep } from '../infra/sleep.js';
import { startTemporalDevServer } from '../infra/temporal.js';
import { startWorker } from '../worker/runtime.js';
import { WORKFLOW_TASK_TIMEOUT, positionStateQuery, positionWorkflowId, symbolStateQuery, symbolWorkflowId } from '../workflows/contracts.js';
import type { symbolWorkflow } from '../workflows/symbol.js';

const INTERVAL = 300_000;
const BASE_PRICE = 100;
/** Symbol groups taking turns to enter (see `groupOf`). */
const GROUPS = 8;

export interface OrderLatency {
  /** Candle close published -> entry order acknowledged, ms, one per entry. */
  closeToEntry: number[];
  /** Crossing mark published -> exit order acknowledged, ms, one per exit. */
  crossingToExit: number[];
  /** Exits the worker's stream watch sent itself (the rest were sent by their position workflow). */
  sentByWatch: number;
  /** Exits slower than a second: how long, and whether the watch sent them. */
  slowExits: { ms: number; byWatch: boolean }[];
  /** The worker process's event-loop delay over the rounds (the exchange runs in it too), ms. */
  eventLoopDelay: { p99: number; max: number };
}

export async function measureOrderLatency(opts: { symbols: number; rounds: number; log?: (line: string) => void }): Promise<OrderLatency> {
  const say = opts.log ?? (() => {});
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'qt-order-latency-'));
  const stops: (() => Promise<unknown>)[] = [];
  const quiet = pino({ level: 'warn' });
  try {
    const [temporal, pg] = await Promise.all([
      startTemporalDevServer({ port: 0, uiPort: false }),
      startEmbeddedPostgres({ dataDir: path.join(tmp, 'pg'), port: 0, ephemeral: true }),
    ]);
    stops.push(() => temporal.stop(), () => pg.stop());
    // Groups of `opts.symbols` take turns: a position with an armed exit holds its symbol back for about half a
    // minute after it closes (PositionReport.armedUntil), longer than a round takes.
    const symbols = Array.from({ length: opts.symbols * GROUPS }, (_, i) => `L${String(i).padStart(3, '0')}USDT`);
    const groupOf = (round: number) => symbols.slice((round % GROUPS) * opts.symbols, (round % GROUPS + 1) * opts.symbols);
    // The exchange's clock is the wall clock moved forward to each candle boundary; its own stream timer is
    // slowed so that every measured event is one published here.
    // A few closed candles before the worker starts (its store is seeded with them over REST).
    const HISTORY_CANDLES = 5;
    let offset = -HISTORY_CANDLES * INTERVAL;
    const clock = () => Date.now() + offset;
    const ex = await startLocalExchange({
      port: 0,
      clock,
      feed: { kind: 'manual', prices: Object.fromEntries(symbols.map((s) => [s, BASE_PRICE])) },
      rateLimits: false,
      initialBalances: { USDT: 10_000_000 },
      streams: { tickMs: 3_600_000 },
    });
    stops.push(() => ex.close());
    const feed = ex.feed as ManualFeed;
    const setPrice = (symbol: string, price: number) => {
      feed.setPrice(symbol, price);
      ex.engine.onPriceSet(symbol, feed.price(symbol)!);
    };
    for (let k = 0; k < HISTORY_CANDLES; k++) {
      offset += INTERVAL;
      for (const s of symbols) setPrice(s, BASE_PRICE);
    }
    const config = loadConfig({
      QT_SYMBOLS: symbols.join(','),
      QT_TASK_QUEUE: 'latency',
      QT_HEALTH_PORT: '0',
      // Marks are published only by this benchmark: never stale, and moves never wake a loop.
      QT_STREAM_STALE_SECONDS: '3600',
      QT_EVENT_MOVE_PCT: '100',
      QT_MAX_OPEN_POSITIONS: String(symbols.length),
      QT_MAX_TOTAL_NOTIONAL: '1000000000',
      QT_MAX_SYMBOL_NOTIONAL: '1000000000',
    });
    const signals = new ScriptedSignalSource();
    const worker = await startWorker(config, { temporalAddress: temporal.address, databaseUrl: pg.url, exchangeUrl: ex.baseUrl, credentials: null }, { log: quiet, signals });
    stops.push(() => worker.shutdown());
    const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
    stops.push(() => client.connection.close());
    const params = { ...config.params, checkIntervalSeconds: 3600, cooldownSeconds: 0, positionCheckSeconds: 60 };
    await mapLimit(symbols, 8, (symbol) =>
      client.workflow.start<typeof symbolWorkflow>('symbolWorkflow', {
        workflowId: symbolWorkflowId(symbol),
        taskQueue: config.taskQueue,
        args: [{ symbol, params, flags: { aiTradingEnabled: true, executionEnabled: true } }],
        workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
      }),
    );
    // The first publication starts every kline stream (nothing closes yet).
    await until(async () => ex.streams.status().subscriptions >= 2 * symbols.length, 'stream subscriptions', 30_000);
    ex.streams.publishAll();
    const loopState = (symbol: string) => client.workflow.getHandle(symbolWorkflowId(symbol)).query(symbolStateQuery);
    await until(async () => (await Promise.all(symbols.map(loopState))).every((s) => s.tickSeq >= 1), 'first evaluations', 60_000);
    const wallOf = (exchangeTime: number) => exchangeTime - offset;
    const ordersFrom = (from: number) => ex.engine.state.orders.slice(from);

    const result: OrderLatency = { closeToEntry: [], crossingToExit: [], sentByWatch: 0, slowExits: [], eventLoopDelay: { p99: 0, max: 0 } };
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    for (let round = 0; round < opts.rounds; round++) {
      const group = groupOf(round);
      await until(async () => (await Promise.all(group.map(loopState))).every((l) => l.cooldownUntil <= Date.now()), `round ${round}: cooldowns over`, 120_000);
      for (const s of group) signals.set(s, 'BUY', 0.9);
      // Close the forming candle of every symbol at once, as Binance does at the boundary.
      const now = clock();
      offset += Math.ceil(now / INTERVAL) * INTERVAL - now + 5;
      for (const s of symbols) setPrice(s, BASE_PRICE);
      // The worker's client learns the moved clock now, not through a refused request inside the measurement.
      if (worker.exchange instanceof BinanceFuturesAdapter) await worker.exchange.syncTime();
      let seen = ex.engine.state.orders.length;
      const closedAt = Date.now();
      ex.streams.publishAll();
      const entries = new Map<string, number>();
      await until(async () => {
        for (const o of ordersFrom(seen)) if (/-E\d*$/.test(o.clientOrderId)) entries.set(o.symbol, wallOf(o.time) - closedAt);
        return entries.size === group.length;
      }, `round ${round}: entries`, 60_000, async () => JSON.stringify({ wakes: worker.marketEvents?.waker.stats, loops: (await Promise.all(group.map(loopState))).map((l) => l.lastDecision) }));
      result.closeToEntry.push(...entries.values());
      for (const s of group) signals.set(s, 'HOLD', 0.9);
      const positions = await until(async () => {
        const states = await Promise.all(group.map(async (s) => {
          const id = (await loopState(s)).openPositionId;
          if (!id) return null;
          const p = (await client.workflow.getHandle(positionWorkflowId(id)).query(positionStateQuery)).state as PositionLifecycle;
          // Measured only once this position's levels are watched: a crossing published before that is judged
          // at registration, which is not the stream's reaction time.
          const watched = p.stage === 'OPEN' && p.takeProfitPrice !== null && worker.marketEvents!.exits.isWatching(id);
          return watched ? { symbol: s, takeProfit: p.takeProfitPrice! } : null;
        }));
        return states.every((x) => x !== null) ? states : null;
      }, `round ${round}: positions open and watched`, 60_000);
      for (const p of positions) {
        seen = ex.engine.state.orders.length;
        setPrice(p.symbol, Number((p.takeProfit * 1.002).toFixed(4)));
        const sentBefore = worker.marketEvents!.exits.stats().sent;
        const crossedAt = Date.now();
        ex.streams.publishSymbol(p.symbol);
        const exit = await until(async () => ordersFrom(seen).find((o) => o.symbol === p.symbol && /-X\d+$/.test(o.clientOrderId)), `round ${round}: exit of ${p.symbol}`, 30_000);
        const ms = wallOf(exit.time) - crossedAt;
        const byWatch = worker.marketEvents!.exits.stats().sent > sentBefore;
        result.crossingToExit.push(ms);
        if (byWatch) result.sentByWatch++;
        if (ms > 1_000) result.slowExits.push({ ms, byWatch });
      }
      await until(async () => (await Promise.all(group.map(loopState))).every((s) => s.openPositionId === null), `round ${round}: positions closed`, 60_000);
      for (const s of symbols) setPrice(s, BASE_PRICE);
      say(`round ${round + 1}/${opts.rounds}: ${entries.size} entries, ${positions.length} exits`);
    }
    loopDelay.disable();
    result.eventLoopDelay = { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
    for (const s of symbols) await client.workflow.getHandle(symbolWorkflowId(s)).terminate('bench finished').catch(() => undefined);
    return result;
  } finally {
    for (const stop of stops.reverse()) await stop().catch((e: unknown) => console.error(String(e)));
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function until<T>(probe: () => Promise<T | null | undefined | false>, what: string, timeoutMs: number, detail?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${detail ? `: ${await detail()}` : ''}`);
    await sleep(2);
  }
}
