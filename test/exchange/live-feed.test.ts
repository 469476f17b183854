import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startLocalExchange, type LocalExchange } from '../../exchange/sim/server.js';
import type { BinanceFuturesAdapter } from '../../exchange/adapter.js';
import { ManualClock, adapterFor, setPrice } from './helpers.js';
import { sleep } from '../../infra/sleep.js';

/**
 * Paper trading on live prices: a second local exchange stands in for Binance as the upstream (manual feed,
 * a clock the test moves), and the paper exchange takes its prices, marks, klines and rules from it over
 * the public REST API and the market streams.
 */
describe('the live feed (paper exchange on an upstream Binance)', () => {
  const upClock = new ManualClock();
  let upstream: LocalExchange;
  let paper: LocalExchange;
  let up: BinanceFuturesAdapter;
  let a: BinanceFuturesAdapter;

  beforeAll(async () => {
    upstream = await startLocalExchange({ port: 0, clock: upClock.now, feed: { kind: 'manual', prices: { BTCUSDT: 60_000, ETHUSDT: 3_000, XYZUSDT: 2 } } });
    // Some history on the upstream: four closed candles.
    for (const p of [60_100, 60_200, 59_900, 60_000]) {
      await setPrice(upstream, 'BTCUSDT', p);
      upClock.advance(300_000);
    }
    await setPrice(upstream, 'BTCUSDT', 60_000);
    paper = await startLocalExchange({ port: 0, feed: { kind: 'live', restUrl: upstream.baseUrl, wsUrl: upstream.wsUrl, symbols: ['BTCUSDT', 'ETHUSDT'], staleAfterMs: 3000 } });
    up = adapterFor(upstream);
    a = adapterFor(paper);
  });
  afterAll(async () => {
    await paper?.close();
    await upstream?.close();
  });

  const eventually = async (probe: () => Promise<boolean>, what: string, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };

  it('lists the configured symbols with the upstream rules and prices', async () => {
    const info = await a.exchangeInfo();
    expect([...info.keys()].sort()).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(info.get('BTCUSDT')).toEqual((await up.exchangeInfo()).get('BTCUSDT'));
    expect(await a.markPrice('BTCUSDT')).toBe(60_000);
    expect(await a.klines('BTCUSDT', '5m', 10)).toEqual(await up.klines('BTCUSDT', '5m', 10));
  });

  it('follows the upstream mark price, and re-serves it on its own streams at once', async () => {
    const ws = new WebSocket(`${paper.wsUrl}/ws/btcusdt@markPrice@1s`);
    const seen: string[] = [];
    ws.on('message', (d) => seen.push(JSON.parse(d.toString()).p));
    await new Promise((r) => ws.once('open', r));
    await setPrice(upstream, 'BTCUSDT', 60_321.5);
    await eventually(async () => (await a.markPrice('BTCUSDT')) === 60_321.5, 'the paper mark to follow');
    await eventually(async () => seen.includes('60321.5'), "the paper exchange's stream to carry it");
    ws.terminate();
  });

  it('keeps its klines equal to the upstream ones as candles close, across a stalled upstream stream', async () => {
    await setPrice(upstream, 'BTCUSDT', 60_400);
    upClock.advance(300_000);
    await setPrice(upstream, 'BTCUSDT', 60_450);
    await eventually(async () => same(await a.klines('BTCUSDT', '5m', 20), await up.klines('BTCUSDT', '5m', 20)), 'klines to match');
    // The upstream stream goes silent while two candles close: the mirror fetches them over REST after.
    await fetch(`${upstream.baseUrl}/admin/faults`, { method: 'POST', body: JSON.stringify({ streamStall: { ms: 800 } }) });
    for (const p of [60_500, 60_520]) {
      await setPrice(upstream, 'BTCUSDT', p);
      upClock.advance(300_000);
    }
    await setPrice(upstream, 'BTCUSDT', 60_530);
    await eventually(async () => same(await a.klines('BTCUSDT', '5m', 20), await up.klines('BTCUSDT', '5m', 20)), 'klines to match after the stall', 8000);
    const state = await (await fetch(`${paper.baseUrl}/admin/state`)).json();
    expect(state.live.symbols.BTCUSDT.gapFills).toBeGreaterThanOrEqual(1);
  });

  it('fills paper orders at the upstream price and triggers stops on its moves', async () => {
    await setPrice(upstream, 'ETHUSDT', 3_000);
    await eventually(async () => (await a.markPrice('ETHUSDT')) === 3_000, 'ETH at 3000');
    await a.prepareSymbol('ETHUSDT', 5);
    const entry = await a.placeMarketOrder({ symbol: 'ETHUSDT', side: 'BUY', quantity: 0.1, clientOrderId: 'live-entry' });
    expect(entry.avgPrice).toBeGreaterThanOrEqual(3_000);
    expect(entry.avgPrice).toBeLessThan(3_003);
    await a.placeStopOrder({ symbol: 'ETHUSDT', side: 'SELL', type: 'STOP_MARKET', triggerPrice: 2_950, clientAlgoId: 'live-stop' });
    await setPrice(upstream, 'ETHUSDT', 2_940);
    await eventually(async () => (await a.getAlgoOrder('ETHUSDT', 'live-stop'))?.status === 'FINISHED', 'the stop to trigger on the upstream move');
    expect(await a.positions('ETHUSDT')).toEqual([]);
    // Nothing traded upstream: the paper account is the paper exchange's own.
    expect((await up.positions()).length).toBe(0);
  });

  it('refuses to start for a symbol the upstream does not list', async () => {
    await expect(startLocalExchange({ port: 0, feed: { kind: 'live', restUrl: upstream.baseUrl, wsUrl: upstream.wsUrl, symbols: ['BTCUSDT', 'NOPEUSDT'] } })).rejects.toThrow(/does not list NOPEUSDT/);
    await expect(startLocalExchange({ port: 0, feed: { kind: 'live', restUrl: 'http://127.0.0.1:9', wsUrl: 'ws://127.0.0.1:9', symbols: ['BTCUSDT'] } })).rejects.toThrow(/upstream http:\/\/127\.0\.0\.1:9 did not answer/);
  });
});

function same(a: unknown[], b: unknown[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
