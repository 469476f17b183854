/**
 * Local exchange benchmark, through the real binance client over HTTP (the same path as paper trading):
 *   - order round trip p50 / p99 (sequential MARKET orders, state persisted to disk before each answer)
 *   - sustained orders/s with concurrent callers
 *   - market data round trip (klines, all mark prices) on a replay of real data
 * Each figure is the median over several runs. Usage: npm run bench:exchange [-- --runs 5 --data DIR]
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinanceFuturesAdapter } from '../exchange/adapter.js';
import { startLocalExchange, type LocalExchange } from '../exchange/sim/server.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const RUNS = Number(arg('runs', '5'));
const SEQUENTIAL_ORDERS = Number(arg('orders', '400'));
const CONCURRENCY = Number(arg('concurrency', '16'));
const SUSTAIN_MS = Number(arg('seconds', '3')) * 1000;
const DATA_DIR = arg('data', '../shared/data/binance-futures-5m');

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function withExchange<T>(feed: Parameters<typeof startLocalExchange>[0]['feed'], fn: (ex: LocalExchange, a: BinanceFuturesAdapter) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'qt-bench-exchange-'));
  // No weight budget on either side: the point is the local exchange's capacity, far beyond Binance's limits.
  const ex = await startLocalExchange({ port: 0, stateFile: join(dir, 'state.json'), feed, initialBalances: { USDT: 1e9, USDC: 1e9 }, rateLimits: false });
  const a = new BinanceFuturesAdapter({ venue: 'paper', baseUrl: ex.baseUrl, apiKey: ex.apiKey, apiSecret: ex.apiSecret, weightLimitPerMinute: Infinity });
  try {
    return await fn(ex, a);
  } finally {
    await ex.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function orderRun(run: number): Promise<{ p50: number; p99: number; perSecond: number }> {
  return withExchange({ kind: 'manual', prices: { BTCUSDT: 60_000, ETHUSDT: 3_000 } }, async (_ex, a) => {
    await a.prepareSymbol('BTCUSDT', 10);
    let seq = 0;
    const order = (): Promise<unknown> =>
      a.placeMarketOrder({ symbol: 'BTCUSDT', side: seq % 2 ? 'SELL' : 'BUY', quantity: 0.002, referencePrice: 60_000, clientOrderId: `b${run}-${seq++}` });
    for (let i = 0; i < 50; i++) await order(); // warm-up: connections, JIT
    const latencies: number[] = [];
    for (let i = 0; i < SEQUENTIAL_ORDERS; i++) {
      const t = performance.now();
      await order();
      latencies.push(performance.now() - t);
    }
    let done = 0;
    const until = performance.now() + SUSTAIN_MS;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < until) {
          await order();
          done++;
        }
      }),
    );
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), perSecond: done / ((performance.now() - t0) / 1000) };
  });
}

async function marketDataRun(): Promise<{ klinesP50: number; marksP50: number; symbols: number }> {
  return withExchange({ kind: 'replay', dir: DATA_DIR, speed: 100 }, async (ex, a) => {
    const symbols = ex.feed.symbols();
    const k: number[] = [];
    const m: number[] = [];
    for (let i = 0; i < 20; i++) await a.klines(symbols[i % symbols.length]!, '5m', 300);
    for (let i = 0; i < 300; i++) {
      let t = performance.now();
      await a.klines(symbols[i % symbols.length]!, '5m', 300);
      k.push(performance.now() - t);
      if (i % 5 === 0) {
        t = performance.now();
        await a.markPrices();
        m.push(performance.now() - t);
      }
    }
    return { klinesP50: percentile(k, 50), marksP50: percentile(m, 50), symbols: symbols.length };
  });
}

const orderRuns = [];
for (let r = 0; r < RUNS; r++) {
  const res = await orderRun(r);
  orderRuns.push(res);
  console.log(`run ${r + 1}/${RUNS}: order round trip p50 ${res.p50.toFixed(2)} ms, p99 ${res.p99.toFixed(2)} ms; sustained ${res.perSecond.toFixed(0)} orders/s (${CONCURRENCY} callers)`);
}
console.log(`\nlocal exchange, real binance client over HTTP, medians of ${RUNS} runs:`);
console.log(`  order round trip   p50 ${median(orderRuns.map((r) => r.p50)).toFixed(2)} ms   p99 ${median(orderRuns.map((r) => r.p99)).toFixed(2)} ms   (${SEQUENTIAL_ORDERS} sequential orders per run)`);
console.log(`  sustained          ${median(orderRuns.map((r) => r.perSecond)).toFixed(0)} orders/s   (${CONCURRENCY} concurrent callers, ${SUSTAIN_MS / 1000} s per run)`);
if (existsSync(DATA_DIR)) {
  const md = [];
  for (let r = 0; r < Math.min(RUNS, 3); r++) md.push(await marketDataRun());
  console.log(`  market data        klines(300) p50 ${median(md.map((r) => r.klinesP50)).toFixed(2)} ms   all mark prices p50 ${median(md.map((r) => r.marksP50)).toFixed(2)} ms   (replay of ${md[0]!.symbols} symbols)`);
} else {
  console.log(`  market data        skipped: no data directory at ${DATA_DIR}`);
}
