/**
 * Market-event latency on this machine, through the real parts: the local exchange's market streams, the
 * `binance` package's WebsocketClient and REST client, and the worker's market-data service.
 *
 *   1. candle close: the local exchange closes the 5-minute candle of every fleet symbol at once (as Binance
 *      does) -> each symbol's store has the candle and its feature row is ready ('candleClosed').
 *   2. mark update: a price change on the exchange -> the mark price event reaches a subscriber ('mark').
 *   3. tick cost: scoring the fleet with features recomputed from ~420 candles per symbol (before) and with
 *      the rows the store keeps incrementally (after), xgb-v1 on onnxruntime-node.
 *   4. orders through the real worker on Temporal and Postgres (bench/order-latency.ts): candle close -> entry
 *      order acknowledged by the local exchange, and mark crossing take profit -> exit order acknowledged.
 *
 *   npm run bench:latency [-- --symbols 45 --rounds 10 --marks 300 --order-symbols 5 --order-rounds 40]
 *
 * The exchange runs in this process with a clock the benchmark moves; its own stream timer is slowed so that
 * every measured event is one the benchmark published (t0 is taken just before the exchange sends it).
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { WARMUP_CANDLES } from '../core/features.js';
import { BinanceFuturesAdapter } from '../exchange/adapter.js';
import { ManualFeed } from '../exchange/sim/feed.js';
import { startLocalExchange } from '../exchange/sim/server.js';
import { MarketDataService } from '../market/market-data-service.js';
import { createSignalService } from '../ml/signal-service.js';
import { CANDLE_MARGIN } from '../worker/runtime.js';
import { median, percentile } from './stats.js';
import { measureOrderLatency } from './order-latency.js';
import { sleep } from '../infra/sleep.js';

const { values: args } = parseArgs({
  options: {
    symbols: { type: 'string', default: '45' },
    rounds: { type: 'string', default: '10' },
    marks: { type: 'string', default: '300' },
    model: { type: 'string', default: 'models/xgb-v1' },
    /** Orders through the worker: symbols entering together per round, and rounds. */
    'order-symbols': { type: 'string', default: '5' },
    'order-rounds': { type: 'string', default: '40' },
  },
});
const N = Number(args.symbols);
const ROUNDS = Number(args.rounds);
const MARKS = Number(args.marks);
const INTERVAL = 300_000;
const HISTORY = WARMUP_CANDLES + CANDLE_MARGIN;
const log = pino({ level: 'warn' });

let now = Date.UTC(2026, 0, 1);
const symbols = Array.from({ length: N }, (_, i) => `B${String(i).padStart(3, '0')}USDT`);
/** A random walk per symbol, so features are not degenerate. */
const price = new Map(symbols.map((s, i) => [s, 10 + i]));
const step = (s: string) => price.set(s, Math.max(0.01, price.get(s)! * (1 + (Math.random() - 0.5) * 0.004)));

const ex = await startLocalExchange({ port: 0, clock: () => now, feed: { kind: 'manual' }, rateLimits: false, streams: { tickMs: 3_600_000 } });
const feed = ex.feed as ManualFeed;
const setPrice = (s: string) => {
  feed.setPrice(s, price.get(s)!);
  ex.engine.onPriceSet(s, feed.price(s)!);
};
// History: HISTORY + a few closed candles per symbol, four prices each.
for (let k = 0; k < HISTORY + 5; k++) {
  for (const s of symbols) for (let j = 0; j < 4; j++) (step(s), setPrice(s));
  now += INTERVAL;
}
for (const s of symbols) setPrice(s);

const rest = new BinanceFuturesAdapter({ venue: 'paper', baseUrl: ex.baseUrl, apiKey: ex.apiKey, apiSecret: ex.apiSecret, weightLimitPerMinute: Infinity });
const md = new MarketDataService({ rest, stream: { wsUrl: ex.wsUrl }, history: HISTORY, featureWindow: 1, staleAfterMs: 3_600_000, log });
await md.start(symbols);
await until(() => md.status().connections.every((c) => c.connected) && ex.streams.status().subscriptions === 2 * N, 'subscriptions');
// The first publication starts every kline stream (nothing closes yet).
ex.streams.publishAll();
await sleep(200);

// ---- 1. candle close -> store and features ready ---------------------------------------------------------
const closeLatency: number[] = [];
let t0 = 0;
let pending = 0;
let roundDone: (() => void) | null = null;
md.on('candleClosed', (e) => {
  if (!e.features) throw new Error(`no feature row for ${e.symbol}`);
  closeLatency.push(performance.now() - t0);
  if (--pending === 0) roundDone?.();
});
for (let r = 0; r < ROUNDS; r++) {
  for (const s of symbols) (step(s), setPrice(s));
  now += INTERVAL;
  for (const s of symbols) (step(s), setPrice(s));
  pending = N;
  const done = new Promise<void>((resolve) => (roundDone = resolve));
  t0 = performance.now();
  ex.streams.publishAll();
  await withTimeout(done, 10_000, `round ${r}: ${pending} closes missing`);
  await sleep(50);
}
const problems = Object.keys(md.status().problems).length;

// ---- 2. mark update -> subscriber ------------------------------------------------------------------------
const markLatency: number[] = [];
let waiting: { symbol: string; resolve: () => void } | null = null;
md.on('mark', (m) => {
  if (waiting && m.symbol === waiting.symbol) {
    markLatency.push(performance.now() - t0);
    const w = waiting;
    waiting = null;
    w.resolve();
  }
});
for (let i = 0; i < MARKS; i++) {
  const s = symbols[i % N]!;
  step(s);
  setPrice(s);
  const arrived = new Promise<void>((resolve) => (waiting = { symbol: s, resolve }));
  t0 = performance.now();
  ex.streams.publishSymbol(s);
  await withTimeout(arrived, 5_000, `mark ${i}`);
}

// ---- 3. tick cost: features recomputed vs kept -----------------------------------------------------------
const svc = await createSignalService({ primaryDir: args.model, staleAfterMs: Number.POSITIVE_INFINITY, logger: log });
const stores = await Promise.all(symbols.map((s) => md.closedCandles(s)));
const tick = async (withRows: boolean) => {
  const t = performance.now();
  const out = await Promise.all(symbols.map((s, i) => svc.score(s, stores[i]!.candles, withRows ? stores[i]!.features : undefined)));
  if (out.some((o) => o.holdReason)) throw new Error(`hold: ${out.find((o) => o.holdReason)!.holdReason}`);
  return performance.now() - t;
};
const before: number[] = [];
const after: number[] = [];
for (let i = 0; i < 5; i++) (await tick(false), await tick(true)); // warm-up
for (let i = 0; i < 40; i++) {
  before.push(await tick(false));
  after.push(await tick(true));
}
const same = await Promise.all(symbols.map(async (s, i) => {
  const a = await svc.score(s, stores[i]!.candles);
  const b = await svc.score(s, stores[i]!.candles, stores[i]!.features);
  return a.signal === b.signal ? Math.abs(a.confidence - b.confidence) : Number.POSITIVE_INFINITY;
}));
await svc.close();
md.close();
await ex.close();

// ---- 4. orders through the worker: candle close -> entry, mark crossing -> exit ---------------------------
const orders = await measureOrderLatency({ symbols: Number(args['order-symbols']), rounds: Number(args['order-rounds']), log: (line) => console.error(line) });

const fmt = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${percentile(s, 0.5).toFixed(2)} ms, p99 ${percentile(s, 0.99).toFixed(2)} ms, max ${s[s.length - 1]!.toFixed(2)} ms (${s.length} events)`;
};
console.log(`market-event latency, local exchange streams -> binance WebsocketClient -> market-data service, ${N} symbols`);
console.log(`  candle close -> candle stored, feature row ready   ${fmt(closeLatency)}; ${ROUNDS} closes of all ${N} symbols at once; ${problems} symbols with a problem after`);
console.log(`  mark update  -> mark event at a subscriber        ${fmt(markLatency)}`);
console.log(`orders through the worker (event-driven: stream -> worker -> Temporal -> binance client -> local exchange), ${args['order-symbols']} symbols per round, ${8 * Number(args['order-symbols'])} loops (groups take turns)`);
console.log(`  candle close -> entry order acknowledged            ${fmt(orders.closeToEntry)}; all symbols enter on the same close (risk book serialized)`);
console.log(`  mark crossing take profit -> exit order acknowledged ${fmt(orders.crossingToExit)}; one symbol at a time`);
console.log(`  exits sent by the worker's stream watch              ${orders.sentByWatch} of ${orders.crossingToExit.length}; over 1 s: ${orders.slowExits.map((e) => `${e.ms} ms (${e.byWatch ? 'watch' : 'position'})`).join(', ') || 'none'}`);
console.log(`  event-loop delay of the process (worker + exchange) p99 ${orders.eventLoopDelay.p99.toFixed(1)} ms, max ${orders.eventLoopDelay.max.toFixed(1)} ms`);
console.log(`tick cost, ${N} symbols scored together (${args.model}, ${HISTORY} candles per symbol), median of 40 ticks:`);
console.log(`  features recomputed from the candles (before)      ${median(before).toFixed(2)} ms per tick`);
console.log(`  feature rows kept by the store (after)             ${median(after).toFixed(2)} ms per tick`);
console.log(`  largest confidence difference between the two      ${Math.max(...same).toExponential(2)} (the kept rows start from the seed, a batch from the last ${HISTORY} candles)`);
process.exit(0);


async function until(probe: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref())]);
}
