import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { downloadKlines, parseTime } from '../../exchange/download.js';
import { readCandleSeries } from '../../exchange/klines-file.js';
import { startLocalExchange, type LocalExchange } from '../../exchange/sim/server.js';
import { FIXTURE_DIR, tempDir } from './helpers.js';

describe('qt data download', () => {
  const tmp = tempDir();
  let ex: LocalExchange | undefined;
  afterAll(async () => {
    await ex?.close();
    tmp.cleanup();
  });

  it('round-trips the fixture through the local exchange as upstream', async () => {
    // Market time near the end of the fixture, so the whole first day is history.
    ex = await startLocalExchange({ port: 0, feed: { kind: 'replay', dir: FIXTURE_DIR, speed: 1, start: Date.UTC(2025, 7, 2, 20) } });
    const from = parseTime('2025-08-01', '--from');
    const to = parseTime('2025-08-02T06:00', '--to');
    const counts = await downloadKlines({ symbols: ['BTCUSDT', 'AVAXUSDC'], interval: '5m', from, to, outDir: join(tmp.dir, 'out'), baseUrl: ex.baseUrl });
    // 30 hours of 5-minute candles; the end (--to) is exclusive.
    expect(counts.get('BTCUSDT')).toBe(360);
    for (const symbol of ['BTCUSDT', 'AVAXUSDC']) {
      const got = readCandleSeries(join(tmp.dir, 'out', `${symbol}.csv.gz`));
      const want = readCandleSeries(join(FIXTURE_DIR, `${symbol}.csv.gz`));
      const start = want.openTime.indexOf(from);
      for (const col of ['openTime', 'open', 'high', 'low', 'close', 'volume'] as const) {
        expect(Array.from(got[col])).toEqual(Array.from(want[col].slice(start, start + 360)));
      }
    }
  });

  it('pages through many requests and leaves out the forming candle', async () => {
    const from = Date.UTC(2025, 7, 1);
    const to = Date.UTC(2025, 7, 3);
    const counts = await downloadKlines({ symbols: ['ETHUSDT'], interval: '5m', from, to, outDir: join(tmp.dir, 'all'), baseUrl: ex!.baseUrl, pageSize: 100 });
    // Market time is 2025-08-02T20:00 plus a moment: 44 h of closed candles exist.
    expect(counts.get('ETHUSDT')).toBe(44 * 12);
    const got = readCandleSeries(join(tmp.dir, 'all', 'ETHUSDT.csv.gz'));
    expect(got.openTime[got.openTime.length - 1]).toBe(Date.UTC(2025, 7, 2, 19, 55));
  });

  it('reads times as ISO UTC or milliseconds', () => {
    expect(parseTime('2025-08-01', 'x')).toBe(Date.UTC(2025, 7, 1));
    expect(parseTime('2025-08-01T12:30', 'x')).toBe(Date.UTC(2025, 7, 1, 12, 30));
    expect(parseTime('1754006400000', 'x')).toBe(1754006400000);
    expect(() => parseTime('yesterday', '--from')).toThrow(/--from/);
  });
});
