import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readCandleSeries } from '../../exchange/klines-file.js';
import { StateStore } from '../../exchange/sim/store.js';
import { startLocalExchange, type LocalExchange, type LocalExchangeOptions } from '../../exchange/sim/server.js';
import { FIXTURE_DIR, FIXTURE_START, ManualClock, adapterFor, rawClient, tempDir } from './helpers.js';
import { sleep } from '../../infra/sleep.js';

const FIVE_MIN = 300_000;
const opened: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

async function replayExchange(clock: ManualClock, stateFile: string, over: Partial<LocalExchangeOptions> = {}): Promise<LocalExchange> {
  const ex = await startLocalExchange({
    port: 0,
    stateFile,
    clock: clock.now,
    feed: { kind: 'replay', dir: FIXTURE_DIR, speed: 10, start: FIXTURE_START },
    ...over,
  });
  opened.push(() => ex.close());
  return ex;
}

describe('replay feed', () => {
  it('serves closed candles as recorded and the forming one from the path walked so far', async () => {
    const tmp = tempDir();
    opened.push(tmp.cleanup);
    const clock = new ManualClock();
    const ex = await replayExchange(clock, join(tmp.dir, 's.json'));
    clock.advance(25_000); // 250 s of market time at 10x: 50 s before the 12:00 candle closes
    const c = rawClient(ex);
    const rows = await c.getKlines({ symbol: 'BTCUSDT', interval: '5m', limit: 3 });
    const series = readCandleSeries(join(FIXTURE_DIR, 'BTCUSDT.csv.gz'));
    const i = series.openTime.indexOf(FIXTURE_START);
    const last = rows[rows.length - 1]!;
    expect(last[0]).toBe(FIXTURE_START);
    expect(Number(rows[1]![0])).toBe(FIXTURE_START - FIVE_MIN);
    expect(Number(rows[1]![2])).toBe(series.high[i - 1]);
    expect(Number(rows[1]![4])).toBe(series.close[i - 1]);
    // Forming: high/low inside the candle's range, close = the mark price now.
    const mark = await c.getMarkPrice({ symbol: 'BTCUSDT' });
    expect(Number(last[4])).toBe(Number(mark.markPrice));
    expect(Number(last[2])).toBeLessThanOrEqual(series.high[i]!);
    expect(Number(last[3])).toBeGreaterThanOrEqual(series.low[i]!);
    expect(mark.time).toBe(FIXTURE_START + 250_000);
    // Historical ranges with startTime/endTime, and an aggregated interval.
    const day = await c.getKlines({ symbol: 'BTCUSDT', interval: '5m', startTime: Date.UTC(2025, 7, 1), endTime: Date.UTC(2025, 7, 1, 1) - 1, limit: 1500 });
    expect(day.map((k) => k[0])).toEqual(Array.from({ length: 12 }, (_, k) => Date.UTC(2025, 7, 1) + k * FIVE_MIN));
    const hourly = await c.getKlines({ symbol: 'BTCUSDT', interval: '1h', startTime: Date.UTC(2025, 7, 1), limit: 2 });
    const j = series.openTime.indexOf(Date.UTC(2025, 7, 1));
    expect(Number(hourly[0]![2])).toBe(Math.max(...series.high.slice(j, j + 12)));
    expect(Number(hourly[0]![4])).toBe(series.close[j + 11]);
  });

  it('runs at 1000x on the wall clock', async () => {
    const tmp = tempDir();
    opened.push(tmp.cleanup);
    const ex = await startLocalExchange({ port: 0, feed: { kind: 'replay', dir: FIXTURE_DIR, speed: 1000, start: FIXTURE_START } });
    opened.push(() => ex.close());
    const t0 = Date.now();
    await sleep(300);
    const m = await rawClient(ex).getMarkPrice({ symbol: 'ETHUSDT' });
    const wall = Date.now() - t0;
    expect(m.time - FIXTURE_START).toBeGreaterThanOrEqual(1000 * 290);
    expect(m.time - FIXTURE_START).toBeLessThanOrEqual(1000 * (wall + 50));
    // The venue clock the risk book counts days in is this market time, not the wall clock.
    const venue = await adapterFor(ex).venueTime('ETHUSDT');
    expect(venue - FIXTURE_START).toBeGreaterThanOrEqual(m.time - FIXTURE_START);
    expect(new Date(venue).getUTCFullYear()).toBe(2025);
  });

  it('an algo stop triggers on an intrabar low even when the clock jumps past the whole candle', async () => {
    const series = readCandleSeries(join(FIXTURE_DIR, 'BTCUSDT.csv.gz'));
    // A candle whose low dips well under both open and close, and whose next candle stays above the dip.
    let k = -1;
    for (let i = series.openTime.indexOf(FIXTURE_START); i < series.openTime.length - 2; i++) {
      const body = Math.min(series.open[i]!, series.close[i]!);
      const trigger = (body + series.low[i]!) / 2;
      if (body - series.low[i]! > 60 && series.low[i + 1]! > trigger + 10 && series.low[i + 2]! > trigger + 10) {
        k = i;
        break;
      }
    }
    expect(k).toBeGreaterThan(0);
    const candleOpen = series.openTime[k]!;
    const trigger = Math.round(((Math.min(series.open[k]!, series.close[k]!) + series.low[k]!) / 2) * 10) / 10;

    const tmp = tempDir();
    opened.push(tmp.cleanup);
    const clock = new ManualClock();
    const ex = await replayExchange(clock, join(tmp.dir, 's.json'), { feed: { kind: 'replay', dir: FIXTURE_DIR, speed: 1000, start: candleOpen } });
    const a = adapterFor(ex);
    await a.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.01, referencePrice: series.open[k]!, clientOrderId: 'long-1' });
    await a.placeStopOrder({ symbol: 'BTCUSDT', side: 'SELL', type: 'STOP_MARKET', triggerPrice: trigger, clientAlgoId: 'sl-1' });
    clock.advance(600); // 600 s of market time in one step: lands in candle k+2, above the trigger
    expect(await a.markPrice('BTCUSDT')).toBeGreaterThan(trigger);
    const stop = (await a.getAlgoOrder('BTCUSDT', 'sl-1'))!;
    expect(stop.status).toBe('FINISHED');
    const [fill] = await a.tradesForOrder('BTCUSDT', stop.actualOrderId!);
    expect(fill!.time).toBeGreaterThan(candleOpen);
    expect(fill!.time).toBeLessThan(candleOpen + FIVE_MIN);
    expect(fill!.price).toBeLessThanOrEqual(trigger);
    expect(fill!.price).toBeGreaterThanOrEqual(series.low[k]! * (1 - 0.0003));
    expect(await a.positions('BTCUSDT')).toEqual([]);
  });

  it('two runs with the same data and orders give byte-identical fills, fees and balances', async () => {
    const run = async (): Promise<string> => {
      const tmp = tempDir();
      opened.push(tmp.cleanup);
      const clock = new ManualClock();
      const ex = await replayExchange(clock, join(tmp.dir, 's.json'), { feed: { kind: 'replay', dir: FIXTURE_DIR, speed: 60, start: FIXTURE_START } });
      const a = adapterFor(ex);
      await a.prepareSymbol('ETHUSDT', 5);
      for (let step = 0; step < 12; step++) {
        const side = step % 2 === 0 ? 'BUY' : 'SELL';
        await a.placeMarketOrder({ symbol: 'BTCUSDT', side, quantity: 0.003 + step * 0.001, referencePrice: 100_000, clientOrderId: `btc-${step}` });
        await a.placeMarketOrder({ symbol: 'AVAXUSDC', side: side === 'BUY' ? 'SELL' : 'BUY', quantity: 5, referencePrice: 20, clientOrderId: `avax-${step}` });
        if (step === 3) {
          await a.placeMarketOrder({ symbol: 'ETHUSDT', side: 'BUY', quantity: 0.2, referencePrice: 3_000, clientOrderId: 'eth-long' });
          const mark = await a.markPrice('ETHUSDT');
          await a.placeStopOrder({ symbol: 'ETHUSDT', side: 'SELL', type: 'STOP_MARKET', triggerPrice: mark * 0.997, clientAlgoId: 'eth-sl' });
          await a.placeStopOrder({ symbol: 'ETHUSDT', side: 'SELL', type: 'TAKE_PROFIT_MARKET', triggerPrice: mark * 1.003, clientAlgoId: 'eth-tp' });
        }
        clock.advance(7_000 + step * 1_000);
      }
      const res = await fetch(`${ex.baseUrl}/admin/state`);
      const state = (await res.json()) as { fills: unknown[]; balances: unknown[]; algoOrders: unknown[] };
      return JSON.stringify({ fills: state.fills, balances: state.balances, algoOrders: state.algoOrders });
    };
    const first = await run();
    const second = await run();
    const parsed = JSON.parse(first) as { fills: unknown[]; algoOrders: Array<{ algoStatus: string }> };
    expect(parsed.fills.length).toBeGreaterThanOrEqual(25);
    // One of the two ETH exits fired during the run, so triggered fills are part of the comparison.
    expect(parsed.algoOrders.map((a) => a.algoStatus).sort()).toEqual(['EXPIRED', 'FINISHED']);
    expect(second).toBe(first);
  });

  it('a restart loses no balances, positions, orders, algo orders, fills nor the replay clock', async () => {
    const tmp = tempDir();
    opened.push(tmp.cleanup);
    const stateFile = join(tmp.dir, 'state.json');
    const clock = new ManualClock();
    const ex1 = await replayExchange(clock, stateFile);
    const a1 = adapterFor(ex1);
    await a1.prepareSymbol('BTCUSDT', 7);
    await a1.placeMarketOrder({ symbol: 'BTCUSDT', side: 'SELL', quantity: 0.02, referencePrice: 100_000, clientOrderId: 'short-1' });
    await a1.placeMarketOrder({ symbol: 'AVAXUSDC', side: 'BUY', quantity: 10, referencePrice: 20, clientOrderId: 'avax-1' });
    // Acknowledged means on disk: a crash right after the answer would not lose the order.
    const onDisk = StateStore.load(stateFile)!.state;
    expect(onDisk.orders.map((o) => o.clientOrderId)).toEqual(['short-1', 'avax-1']);
    const mark = await a1.markPrice('BTCUSDT');
    await a1.placeStopOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'STOP_MARKET', triggerPrice: mark * 1.05, clientAlgoId: 'short-sl' });
    clock.advance(3_000);
    const before = { balances: await a1.balances(), positions: await a1.positions(), time: (await rawClient(ex1).getMarkPrice({ symbol: 'BTCUSDT' })).time };
    await ex1.close();
    opened.pop();

    const ex2 = await replayExchange(clock, stateFile, { feed: { kind: 'replay', dir: FIXTURE_DIR, speed: 10, start: FIXTURE_START - 86_400_000 } });
    const a2 = adapterFor(ex2);
    expect((await rawClient(ex2).getMarkPrice({ symbol: 'BTCUSDT' })).time).toBe(before.time);
    expect(await a2.balances()).toEqual(before.balances);
    expect(await a2.positions()).toEqual(before.positions);
    expect(before.positions.map((p) => p.symbol).sort()).toEqual(['AVAXUSDC', 'BTCUSDT']);
    expect(await a2.getOrder('BTCUSDT', 'short-1')).toMatchObject({ status: 'FILLED', executedQty: 0.02, side: 'SELL' });
    expect(await a2.getAlgoOrder('BTCUSDT', 'short-sl')).toMatchObject({ status: 'NEW' });
    expect(ex2.engine.leverageOf('BTCUSDT')).toBe(7);
    // Ids continue instead of restarting, so no client sees a reused id.
    const next = await a2.placeMarketOrder({ symbol: 'BTCUSDT', side: 'BUY', quantity: 0.02, reduceOnly: true, clientOrderId: 'cover-1' });
    expect(next.orderId).toBe(3);
    expect((await a2.tradesForOrder('BTCUSDT', 1)).length).toBe(1);
  });
});
