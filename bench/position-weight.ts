/**
 * Request weight of a fleet with open positions, measured by the local exchange's own weight counter
 * (X-MBX-USED-WEIGHT-1M, Binance's per-IP minute count and endpoint weights). N position workflows hold
 * open positions while N symbol loops tick every interval and read their candles, on the real worker,
 * Temporal, Postgres and the real client. In event-driven mode (the default) the worker follows the market
 * streams: loops read candles from the stream store and positions are watched on the mark stream, reading
 * the exchange only as a slow fallback; with `--event-driven false` loops fetch candles over REST and
 * positions read the exchange every QT_POSITION_CHECK_SECONDS (default 5 s).
 *
 *   npm run bench:weight -- [--positions 45] [--minutes 2] [--account-read-ms 1000] [--event-driven true|false]
 *
 * Prints the weight of each full minute, next to Binance's limit (2,400) and to what one position read
 * per position per check would cost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import pino from 'pino';
import { DEFAULT_PARAMS } from '../core/params.js';
import { DEFAULT_RISK_LIMITS } from '../core/risk.js';
import type { Candle, ScoredSignal } from '../core/types.js';
import { holdSignal, type SignalSource } from '../activities/signal-source.js';
import { wireActivities } from '../activities/wiring.js';
import { mapLimit } from '../core/map-limit.js';
import { createExchange } from '../exchange/index.js';
import { startLocalExchange } from '../exchange/sim/server.js';
import { startEmbeddedPostgres } from '../infra/postgres.js';
import { startTemporalDevServer } from '../infra/temporal.js';
import { Journal } from '../journal/index.js';
import { createTradingWorker } from '../worker/create-worker.js';
import { installTemporalLogger } from '../worker/runtime.js';
import { startMarketEvents } from '../worker/market-events.js';
import { MarketDataService } from '../market/market-data-service.js';
import { positionStateQuery, positionWorkflowId, symbolWorkflowId, type PositionInput } from '../workflows/contracts.js';
import type { positionWorkflow } from '../workflows/position.js';
import type { symbolWorkflow } from '../workflows/symbol.js';
import { sleep } from '../infra/sleep.js';

const { values: args } = parseArgs({
  options: {
    positions: { type: 'string', default: '45' },
    minutes: { type: 'string', default: '2' },
    'account-read-ms': { type: 'string', default: '1000' },
    'event-driven': { type: 'string', default: 'true' },
  },
});
const N = Number(args.positions);
const minutes = Number(args.minutes);
const eventDriven = args['event-driven'] !== 'false';

installTemporalLogger(pino({ level: 'error' }));

/** Holds, but fetches candles every tick like the model would (so the loops' weight is counted). */
const holdWithCandles: SignalSource = {
  needsCandles: true,
  score: async (symbol: string, candles: Candle[]): Promise<ScoredSignal> => holdSignal(symbol, candles, 'weight bench'),
};

const tmp = mkdtempSync(path.join(os.tmpdir(), 'qt-weight-'));
const stops: (() => Promise<void>)[] = [];
try {
  const [temporal, pg] = await Promise.all([
    startTemporalDevServer({ port: 0, uiPort: false }),
    startEmbeddedPostgres({ dataDir: path.join(tmp, 'pg'), port: 0, ephemeral: true }),
  ]);
  stops.push(() => temporal.stop(), () => pg.stop());
  const symbols = Array.from({ length: N }, (_, i) => `W${String(i).padStart(3, '0')}USDT`);
  const prices = Object.fromEntries(symbols.map((s) => [s, 100]));
  const local = await startLocalExchange({ port: 0, feed: { kind: 'manual', prices }, initialBalances: { USDT: 1_000_000 } });
  stops.push(() => local.close());
  const exchange = createExchange({ venue: 'paper', baseUrl: local.baseUrl });
  const journal = await Journal.connect(pg.url);
  await journal.migrate();
  stops.push(() => journal.close());
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }) });
  stops.push(() => client.connection.close());
  const log = pino({ level: 'silent' });
  const md = eventDriven ? new MarketDataService({ rest: exchange, stream: { wsUrl: local.wsUrl }, history: 10, featureWindow: 1, staleAfterMs: 10_000, log }) : null;
  if (md) {
    await md.start(symbols);
    stops.push(async () => md.close());
  }
  const events = md ? startMarketEvents({ eventMovePct: 0.5 }, md, client, exchange, journal, log) : null;
  if (events) stops.push(async () => events.close());
  const { activities } = wireActivities({
    exchange,
    journal,
    signals: holdWithCandles,
    candleHistory: 10,
    ...(md && events ? { candles: md, marketEvents: events.port } : {}),
    risk: () => DEFAULT_RISK_LIMITS,
    log,
    summaryWindowMs: 15_000,
    accountReadMaxAgeMs: Number(args['account-read-ms']),
    temporal: { client, taskQueue: 'weight' },
  });
  const connection = await NativeConnection.connect({ address: temporal.address });
  const worker = await createTradingWorker({ connection, namespace: 'default', taskQueue: 'weight', activities });
  const running = worker.run();
  stops.push(async () => {
    worker.shutdown();
    await running;
  });

  const params = { ...DEFAULT_PARAMS };
  await mapLimit(symbols, 8, async (symbol) => {
    const input: PositionInput = { positionId: `${symbol}-bench-1`, symbol, side: 'LONG', notional: 100, confidence: 0.8, parentWorkflowId: symbolWorkflowId(symbol), params, orderIdStem: `qt-bench-${symbol}` };
    await client.workflow.start<typeof positionWorkflow>('positionWorkflow', { workflowId: positionWorkflowId(input.positionId), taskQueue: 'weight', args: [input] });
    await client.workflow.start<typeof symbolWorkflow>('symbolWorkflow', { workflowId: symbolWorkflowId(symbol), taskQueue: 'weight', args: [{ symbol, params, flags: { aiTradingEnabled: true, executionEnabled: true } }] });
  });
  for (;;) {
    const stages = await Promise.all(symbols.map(async (s) => (await client.workflow.getHandle(positionWorkflowId(`${s}-bench-1`)).query(positionStateQuery)).state.stage));
    if (stages.every((st) => st === 'OPEN')) break;
    await sleep(1_000);
  }
  console.error(`${N} positions open; measuring ${minutes} full minute(s)`);

  // The exchange's count for the current minute, read just before the minute ends (minus this ping).
  const usedNow = async () => Number((await fetch(`${local.baseUrl}/fapi/v1/ping`)).headers.get('x-mbx-used-weight-1m')) - 1;
  const perMinute: number[] = [];
  await sleep(60_000 - (Date.now() % 60_000)); // start at a minute boundary
  for (let m = 0; m < minutes; m++) {
    await sleep(60_000 - (Date.now() % 60_000) - 300);
    perMinute.push(await usedNow());
    await sleep(400);
  }
  const perPositionCost = N * (60 / params.positionCheckSeconds) * 5;
  console.log(
    JSON.stringify({
      eventDriven,
      exitWatches: events?.exits.stats().watched ?? 0,
      openPositions: N,
      positionCheckSeconds: params.positionCheckSeconds,
      symbolLoopIntervalSeconds: params.checkIntervalSeconds,
      accountReadMaxAgeMs: Number(args['account-read-ms']),
      weightPerMinute: perMinute,
      binanceLimitPerMinute: 2400,
      oneReadPerPositionPerCheckWouldBe: perPositionCost,
    }),
  );
  for (const s of symbols) await client.workflow.getHandle(symbolWorkflowId(s)).terminate('bench finished').catch(() => undefined);
  for (const s of symbols) await client.workflow.getHandle(positionWorkflowId(`${s}-bench-1`)).terminate('bench finished').catch(() => undefined);
} finally {
  for (const stop of stops.reverse()) await stop().catch((e) => console.error(String(e)));
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(0);
