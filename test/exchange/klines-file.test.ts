import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { KlinesFileError, inferIntervalMs, listKlineFiles, loadCandlesDir, readCandleSeries, readCandles, readKlineHead } from '../../exchange/klines-file.js';
import { startLocalExchange } from '../../exchange/sim/server.js';
import { buildDataset } from '../../ml/dataset.js';
import { runBacktest } from '../../backtest/run.js';

const HEADER = 'timestamp,open,high,low,close,volume';
const dir = mkdtempSync(join(tmpdir(), 'qt-klines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, body: string, gz = false): string => {
  const p = join(dir, name);
  writeFileSync(p, gz ? gzipSync(body) : body);
  return p;
};

describe('the klines reader', () => {
  it('reads .csv and .csv.gz alike, skips blank lines and CRs, infers the interval and the tick decimals', () => {
    const body = `${HEADER}\n1000,1,2,0.5,1.5,10\r\n301000,1.5,1.6,1.4,1.5,0\n\n601000,1.5,1.5,1.5,1.5,3\n`;
    file('AAAUSDT.csv', body);
    file('BBBUSDT.csv.gz', body.replace(/\n$/, ''), true);
    const a = readCandles(join(dir, 'AAAUSDT.csv'));
    expect(a).toEqual([
      { openTime: 1000, open: 1, high: 2, low: 0.5, close: 1.5, volume: 10 },
      { openTime: 301000, open: 1.5, high: 1.6, low: 1.4, close: 1.5, volume: 0 },
      { openTime: 601000, open: 1.5, high: 1.5, low: 1.5, close: 1.5, volume: 3 },
    ]);
    expect(readCandles(join(dir, 'BBBUSDT.csv.gz'))).toEqual(a);
    expect(inferIntervalMs(a)).toBe(300_000);
    const s = readCandleSeries(join(dir, 'AAAUSDT.csv'));
    expect([s.symbol, s.intervalMs, s.priceDecimals]).toEqual(['AAAUSDT', 300_000, 1]);
    expect([...listKlineFiles(dir).keys()]).toEqual(expect.arrayContaining(['AAAUSDT', 'BBBUSDT']));
    expect([...loadCandlesDir(dir, ['BBBUSDT']).keys()]).toEqual(['BBBUSDT']);
    expect(() => loadCandlesDir(dir, ['ZZZUSDT'])).toThrow(/no data file for ZZZUSDT/);
  });

  it('refuses a bad row, naming the file and the line', () => {
    const bad = (name: string, rows: string) => () => readCandles(file(name, `${HEADER}\n${rows}`));
    const ok = '1000,1,2,0.5,1.5,10\n';
    expect(bad('X1USDT.csv', `${ok}301000,1,2,0.5,abc,10\n`)).toThrow(/X1USDT\.csv:3: bad close NaN/);
    expect(bad('X2USDT.csv', '1000,1,2,0.5,1.5\n')).toThrow(/X2USDT\.csv:2: expected 6 fields, got 5/);
    expect(bad('X3USDT.csv', '1000,1,2,0.5,1.5,10,7\n')).toThrow(/X3USDT\.csv:2: expected 6 fields, got 7/);
    // Time going backwards, or repeating.
    expect(bad('X4USDT.csv', `301000,1,2,0.5,1.5,1\n${ok}`)).toThrow(/X4USDT\.csv:3: timestamp 1000 is before the previous one \(301000\)/);
    expect(bad('X5USDT.csv', `${ok}${ok}`)).toThrow(/X5USDT\.csv:3: timestamp 1000 repeats the previous one/);
    expect(bad('X6USDT.csv', '1000.5,1,2,0.5,1.5,1\n')).toThrow(/X6USDT\.csv:2: timestamp 1000.5 is not whole milliseconds/);
    // Non-positive prices.
    expect(bad('X7USDT.csv', '1000,0,2,0.5,1.5,1\n')).toThrow(/X7USDT\.csv:2: bad open 0/);
    expect(bad('X8USDT.csv', '1000,1,2,-0.5,1.5,1\n')).toThrow(/X8USDT\.csv:2: bad low -0.5/);
    // Inconsistent OHLC: high under low, under open, under close; low over close.
    for (const [i, r] of ['1000,1,0.4,0.5,0.45,1', '1000,1,0.9,0.5,0.8,1', '1000,1,2,0.5,2.5,1', '1000,1,2,1.2,1.1,1'].entries()) {
      expect(bad(`Y${i}USDT.csv`, `${r}\n`)).toThrow(new RegExp(`Y${i}USDT\\.csv:2: inconsistent OHLC`));
    }
    // Non-finite values and negative volume.
    expect(bad('X9USDT.csv', '1000,1,Infinity,0.5,1.5,1\n')).toThrow(/X9USDT\.csv:2: bad high Infinity/);
    expect(bad('XAUSDT.csv', '1000,1,2,0.5,1e400,1\n')).toThrow(/XAUSDT\.csv:2: bad close Infinity/);
    expect(bad('XBUSDT.csv', '1000,1,2,0.5,1.5,NaN\n')).toThrow(/XBUSDT\.csv:2: bad volume NaN/);
    expect(bad('XCUSDT.csv', '1000,1,2,0.5,1.5,-1\n')).toThrow(KlinesFileError);
    expect(() => readCandles(file('XDUSDT.csv', 'time,o,h,l,c,v\n'))).toThrow(/XDUSDT\.csv:1: expected header/);
    expect(() => readCandles(file('XEUSDT.csv', `${HEADER}\n`))).toThrow(/XEUSDT\.csv:1: no candles/);
    // The same checks in a gzip file, deep inside it.
    const rows = Array.from({ length: 3000 }, (_, i) => `${i * 300_000},1,2,0.5,1.5,1`);
    rows[2500] = `${2499 * 300_000},1,2,0.5,1.5,1`;
    expect(() => readCandles(file('XFUSDT.csv.gz', `${HEADER}\n${rows.join('\n')}\n`, true))).toThrow(/XFUSDT\.csv\.gz:2502: timestamp .* repeats/);
  });

  it('the head of a file (replay start-up) is checked the same way', () => {
    expect(readKlineHead(file('HAUSDT.csv', `${HEADER}\n1000,1,2,0.5,1.5,1\n`))).toEqual({ firstOpenTime: 1000, firstClose: 1.5, priceDecimals: 1 });
    expect(() => readKlineHead(file('HBUSDT.csv.gz', `${HEADER}\n1000,1,2,3,1.5,1\n`, true))).toThrow(/HBUSDT\.csv\.gz:2: inconsistent OHLC/);
  });
});

describe('one reader for every consumer', () => {
  const bad = join(dir, 'bad');
  mkdirSync(bad);
  // A zero close far past the first 64 KiB, which the replay reads at start to describe the file.
  const rows = Array.from({ length: 3000 }, (_, i) => `${1_750_000_000_000 + i * 300_000},100,101,99,100.5,10`);
  rows[2900] = `${1_750_000_000_000 + 2900 * 300_000},100,101,99,0,10`;
  writeFileSync(join(bad, 'BADUSDT.csv'), `${HEADER}\n${rows.join('\n')}\n`);

  it('the local exchange answers requests for that symbol with the file and line, and keeps running', async () => {
    const ex = await startLocalExchange({ port: 0, feed: { kind: 'replay', dir: bad, speed: 1, start: 1_750_000_000_000 + 1_000 * 300_000 } });
    try {
      const res = await fetch(`${ex.baseUrl}/fapi/v1/klines?symbol=BADUSDT&interval=5m&limit=5`);
      expect(res.status).toBe(500);
      expect(((await res.json()) as { msg: string }).msg).toMatch(/BADUSDT\.csv:2902: bad close 0/);
      expect((await fetch(`${ex.baseUrl}/fapi/v1/time`)).status).toBe(200);
    } finally {
      await ex.close();
    }
    // A bad row inside the first bytes stops the start itself.
    const early = join(dir, 'early');
    mkdirSync(early);
    writeFileSync(join(early, 'EARLYUSDT.csv'), `${HEADER}\n${rows.slice(0, 10).join('\n')}\n${rows[0]}\n`);
    await expect(startLocalExchange({ port: 0, feed: { kind: 'replay', dir: early, speed: 1 } })).rejects.toThrow(/EARLYUSDT\.csv:12: timestamp .* is before/);
  });

  it('the dataset builder and the backtester refuse the directory with the same message', async () => {
    expect(() => buildDataset({ dataDir: bad, progress: false })).toThrow(/BADUSDT\.csv:2902: bad close 0/);
    await expect(runBacktest({ dataDir: bad, modelDir: 'models/xgb-v1', progress: false })).rejects.toThrow(/BADUSDT\.csv:2902: bad close 0/);
  });
});
