import { afterAll, afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { WebsocketClient } from 'binance';
import { startLocalExchange, type LocalExchange } from '../../exchange/sim/server.js';
import { FIXTURE_DIR, FIXTURE_START, ManualClock, adapterFor, setPrice } from './helpers.js';
import { sleep } from '../../infra/sleep.js';

/**
 * The local exchange's market streams: Binance's paths, payloads and control messages, driven by raw
 * WebSocket clients (the `ws` package) and by the `binance` package's WebsocketClient, against the manual
 * feed (a clock the test moves) and a fast replay of the fixture data.
 */

interface Received {
  ws: WebSocket;
  messages: unknown[];
  /** Resolves with the first message (from now on) that satisfies `match`. */
  next(match: (m: any) => boolean, timeoutMs?: number): Promise<any>;
  send(body: unknown): void;
  close(): void;
}

const opened: Received[] = [];

function connect(url: string, options: WebSocket.ClientOptions = {}): Promise<Received> {
  const ws = new WebSocket(url, options);
  const messages: unknown[] = [];
  const waiters: { match: (m: any) => boolean; resolve: (m: any) => void }[] = [];
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.match(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  const r: Received = {
    ws,
    messages,
    next: (match, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching message in ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      }),
    send: (body) => ws.send(JSON.stringify(body)),
    close: () => ws.terminate(),
  };
  opened.push(r);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(r));
    ws.once('error', reject);
  });
}


describe('market streams of the local exchange', () => {
  const exchanges: LocalExchange[] = [];
  const clients: WebsocketClient[] = [];
  afterEach(() => {
    for (const r of opened.splice(0)) r.close();
    for (const c of clients.splice(0)) {
      c.removeAllListeners();
      c.closeAll(true);
    }
  });
  afterAll(async () => {
    for (const ex of exchanges) await ex.close();
  });

  async function manual(extra: Parameters<typeof startLocalExchange>[0]['streams'] = {}, clock = new ManualClock()) {
    const ex = await startLocalExchange({ port: 0, clock: clock.now, feed: { kind: 'manual', prices: { BTCUSDT: 60_000, ETHUSDT: 3_000 } }, streams: extra });
    exchanges.push(ex);
    return { ex, clock };
  }

  it('serves raw streams at /ws/<stream> and pushes a hand-set price at once', async () => {
    const { ex } = await manual();
    const r = await connect(`${ex.wsUrl}/ws/btcusdt@markPrice@1s`);
    const first = await r.next((m) => m.e === 'markPriceUpdate');
    expect(first).toMatchObject({ e: 'markPriceUpdate', s: 'BTCUSDT', p: '60000.0', i: '60000.0', r: '0.00010000' });
    expect(typeof first.E).toBe('number');
    expect(first.T % 28_800_000).toBe(0);
    const pushed = r.next((m) => m.p === '60123.4', 500);
    await setPrice(ex, 'BTCUSDT', 60_123.4);
    await pushed;
  });

  it('wraps combined streams as {stream, data}, also under /market and /public', async () => {
    const { ex } = await manual();
    for (const prefix of ['', '/market', '/public']) {
      const r = await connect(`${ex.wsUrl}${prefix}/stream?streams=btcusdt@kline_5m/ethusdt@markPrice@1s`);
      const kline = await r.next((m) => m.stream === 'btcusdt@kline_5m');
      expect(kline.data).toMatchObject({ e: 'kline', s: 'BTCUSDT', k: { s: 'BTCUSDT', i: '5m', x: false, c: '60000.0' } });
      const mark = await r.next((m) => m.stream === 'ethusdt@markPrice@1s');
      expect(mark.data).toMatchObject({ e: 'markPriceUpdate', s: 'ETHUSDT', p: '3000.00' });
    }
    await expect(connect(`${ex.wsUrl}/nowhere`)).rejects.toThrow(/404/);
  });

  it('answers SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS and the combined property like Binance', async () => {
    const { ex } = await manual();
    const r = await connect(`${ex.wsUrl}/ws`);
    r.send({ method: 'SUBSCRIBE', params: ['btcusdt@markPrice@1s', 'ethusdt@kline_5m'], id: 1 });
    expect(await r.next((m) => m.id === 1)).toEqual({ result: null, id: 1 });
    await r.next((m) => m.e === 'kline' && m.s === 'ETHUSDT');
    r.send({ method: 'LIST_SUBSCRIPTIONS', id: 2 });
    expect((await r.next((m) => m.id === 2)).result.sort()).toEqual(['btcusdt@markPrice@1s', 'ethusdt@kline_5m']);
    r.send({ method: 'UNSUBSCRIBE', params: ['ethusdt@kline_5m'], id: 3 });
    expect(await r.next((m) => m.id === 3)).toEqual({ result: null, id: 3 });
    r.send({ method: 'LIST_SUBSCRIPTIONS', id: 4 });
    expect((await r.next((m) => m.id === 4)).result).toEqual(['btcusdt@markPrice@1s']);
    r.send({ method: 'GET_PROPERTY', params: ['combined'], id: 5 });
    expect(await r.next((m) => m.id === 5)).toEqual({ result: false, id: 5 });
    r.send({ method: 'SET_PROPERTY', params: ['combined', true], id: 6 });
    expect(await r.next((m) => m.id === 6)).toEqual({ result: null, id: 6 });
    expect(await r.next((m) => m.stream === 'btcusdt@markPrice@1s')).toMatchObject({ data: { e: 'markPriceUpdate' } });
  });

  it('refuses malformed requests with Binance error codes and more than 200 streams', async () => {
    const { ex } = await manual();
    const r = await connect(`${ex.wsUrl}/ws`);
    r.ws.send('{not json');
    expect(await r.next((m) => m.error?.code === 3)).toMatchObject({ error: { msg: expect.stringMatching(/^Invalid JSON/) } });
    r.send({ method: 'SUBSCRIBE', params: [], id: -1 });
    expect(await r.next((m) => m.error?.code === 2)).toMatchObject({ error: { msg: 'Invalid request: request ID must be an unsigned integer' } });
    r.send({ method: 'PING', id: 7 });
    expect(await r.next((m) => m.id === 7)).toMatchObject({ error: { code: 2, msg: expect.stringMatching(/unknown variant "PING"/) } });
    r.send({ method: 'GET_PROPERTY', params: ['speed'], id: 8 });
    expect(await r.next((m) => m.id === 8)).toEqual({ error: { code: 0, msg: 'Unknown property' }, id: 8 });
    r.send({ method: 'SET_PROPERTY', params: ['combined', 'yes'], id: 9 });
    expect(await r.next((m) => m.id === 9)).toEqual({ error: { code: 1, msg: 'Invalid value type: expected Boolean' }, id: 9 });
    const many = Array.from({ length: 201 }, (_, i) => `s${i}usdt@markPrice`);
    r.send({ method: 'SUBSCRIBE', params: many, id: 10 });
    expect(await r.next((m) => m.id === 10)).toMatchObject({ error: { code: 2, msg: expect.stringMatching(/at most 200 streams/) } });
    r.send({ method: 'LIST_SUBSCRIPTIONS', id: 11 });
    expect((await r.next((m) => m.id === 11)).result).toEqual([]);
  });

  it('closes a connection that sends more than 10 messages a second', async () => {
    const { ex } = await manual();
    const r = await connect(`${ex.wsUrl}/ws`);
    const closed = new Promise<number>((resolve) => r.ws.once('close', (code) => resolve(code)));
    for (let i = 0; i < 11; i++) r.send({ method: 'LIST_SUBSCRIPTIONS', id: i });
    expect(await closed).toBe(1008);
  });

  it('sends the closing kline (x: true) equal to the REST kline, then the next one forming', async () => {
    const { ex, clock } = await manual();
    const r = await connect(`${ex.wsUrl}/ws/btcusdt@kline_5m`);
    const first = await r.next((m) => m.e === 'kline');
    expect(first.k.x).toBe(false);
    await setPrice(ex, 'BTCUSDT', 60_050);
    clock.advance(300_000);
    const closing = r.next((m) => m.k?.x === true);
    const forming = r.next((m) => m.k?.t === first.k.t + 300_000 && m.k.x === false && m.k.c === '60010.0');
    await setPrice(ex, 'BTCUSDT', 60_010);
    const c = await closing;
    expect(c.k).toMatchObject({ t: first.k.t, T: first.k.t + 299_999, o: '60000.0', h: '60050.0', l: '60000.0', c: '60050.0', x: true });
    // The new candle opens at the last price before it (60050) and has traded down to 60010.
    expect((await forming).k).toMatchObject({ o: '60050.0', h: '60050.0', l: '60010.0', c: '60010.0' });
    const [rest] = await adapterFor(ex).klines('BTCUSDT', '5m', 2);
    expect(rest).toEqual({ openTime: c.k.t, open: Number(c.k.o), high: Number(c.k.h), low: Number(c.k.l), close: Number(c.k.c), volume: Number(c.k.v) });
    // Candles close on time without a new price, and a quiet interval is a flat candle at the last price.
    const second = r.next((m) => m.k?.x === true && m.k.t === first.k.t + 300_000);
    clock.advance(300_000);
    expect((await second).k).toMatchObject({ o: '60050.0', c: '60010.0' });
    const flat = r.next((m) => m.k?.x === true && m.k.t === first.k.t + 600_000);
    clock.advance(300_000);
    expect((await flat).k).toMatchObject({ o: '60010.0', h: '60010.0', l: '60010.0', c: '60010.0' });
  });

  it('streams a fast replay through the binance WebsocketClient without losing a candle', async () => {
    const ex = await startLocalExchange({ port: 0, feed: { kind: 'replay', dir: FIXTURE_DIR, speed: 3000, start: FIXTURE_START } });
    exchanges.push(ex);
    const client = new WebsocketClient({ wsUrl: ex.wsUrl, beautify: false }, quiet);
    clients.push(client);
    const closes: any[] = [];
    const marks: any[] = [];
    client.on('message', (m: any) => {
      if (m.e === 'kline' && m.k.x) closes.push(m.k);
      if (m.e === 'markPriceUpdate') marks.push(m);
    });
    await client.subscribe(['ethusdt@kline_5m', 'ethusdt@markPrice@1s'], 'usdm');
    await sleep(2600);
    // 3000x: a 5-minute candle closes every 100 ms, two or three per 250 ms update.
    expect(closes.length).toBeGreaterThanOrEqual(15);
    for (let i = 1; i < closes.length; i++) expect(closes[i].t - closes[i - 1].t).toBe(300_000);
    expect(marks.length).toBeGreaterThanOrEqual(2);
    const rest = await adapterFor(ex).klines('ETHUSDT', '5m', 1500);
    const byTime = new Map(rest.map((k) => [k.openTime, k]));
    for (const k of closes) {
      expect(byTime.get(k.t)).toEqual({ openTime: k.t, open: Number(k.o), high: Number(k.h), low: Number(k.l), close: Number(k.c), volume: Number(k.v) });
    }
  });

  it('serves !markPrice@arr@1s with every symbol', async () => {
    const { ex } = await manual();
    const r = await connect(`${ex.wsUrl}/ws/!markPrice@arr@1s`);
    const arr = await r.next((m) => Array.isArray(m), 3000);
    expect(arr.map((m: any) => m.s).sort()).toEqual(['BTCUSDT', 'ETHUSDT']);
  });

  it('pings every interval, answers pings, and closes a connection that does not pong', async () => {
    const { ex } = await manual({ pingIntervalMs: 100, pongTimeoutMs: 400 });
    const polite = await connect(`${ex.wsUrl}/ws/btcusdt@markPrice@1s`);
    let pings = 0;
    polite.ws.on('ping', () => pings++);
    const pong = new Promise((resolve) => polite.ws.once('pong', resolve));
    polite.ws.ping('hello');
    await pong;
    const mute = await connect(`${ex.wsUrl}/ws/btcusdt@markPrice@1s`, { autoPong: false });
    const closed = new Promise((resolve) => mute.ws.once('close', resolve));
    await closed;
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(polite.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('streamDrop ends a connection; the binance client reconnects and resubscribes', async () => {
    const { ex } = await manual();
    const client = new WebsocketClient({ wsUrl: ex.wsUrl, beautify: false, reconnectTimeout: 100 }, quiet);
    clients.push(client);
    const marks: number[] = [];
    let reconnected = 0;
    client.on('message', (m: any) => m.e === 'markPriceUpdate' && marks.push(Date.now()));
    client.on('reconnected', () => reconnected++);
    await client.subscribe(['btcusdt@markPrice@1s'], 'usdm');
    await waitUntil(() => marks.length >= 1);
    await post(ex, '/admin/faults', { streamDrop: { count: 1 } });
    await waitUntil(() => reconnected === 1, 5000);
    const after = marks.length;
    await waitUntil(() => marks.length > after, 3000);
    expect(ex.streams.status().dropped).toBe(1);
    expect((await (await fetch(`${ex.baseUrl}/admin/faults`)).json()).streamDrop).toEqual({ count: 0 });
  });

  it('streamStall silences data, answers and pongs for its duration, then the stream resumes', async () => {
    const { ex } = await manual();
    const r = await connect(`${ex.wsUrl}/ws/btcusdt@markPrice@1s`);
    await r.next((m) => m.e === 'markPriceUpdate');
    await post(ex, '/admin/faults', { streamStall: { ms: 1500 } });
    const before = r.messages.length;
    let ponged = false;
    r.ws.once('pong', () => (ponged = true));
    r.ws.ping();
    r.send({ method: 'LIST_SUBSCRIPTIONS', id: 1 });
    await setPrice(ex, 'BTCUSDT', 61_000);
    await sleep(1200);
    expect(r.messages.length).toBe(before);
    expect(ponged).toBe(false);
    await r.next((m) => m.e === 'markPriceUpdate' && m.p === '61000.0', 3000);
    expect(r.messages.some((m: any) => m.id === 1)).toBe(false);
  });

  it('refuses malformed fault switches for streams with the field named', async () => {
    const { ex } = await manual();
    const res = await fetch(`${ex.baseUrl}/admin/faults`, { method: 'POST', body: JSON.stringify({ streamStall: { ms: -1 } }) });
    expect(res.status).toBe(400);
    expect((await res.json()).msg).toMatch(/streamStall\.ms/);
    const res2 = await fetch(`${ex.baseUrl}/admin/faults`, { method: 'POST', body: JSON.stringify({ streamDrop: { count: 1.5 } }) });
    expect((await res2.json()).msg).toMatch(/streamDrop\.count/);
  });
});

const quiet = { trace: () => {}, info: () => {}, error: () => {} };

async function post(ex: LocalExchange, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${ex.baseUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
}

async function waitUntil(probe: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}
