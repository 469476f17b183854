import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { KlinesFileError, inferIntervalMs, listSymbolFiles, loadKlinesDir, parseTime, readKlinesFile } from '../../ml/klines-file.js';

const HEADER = 'timestamp,open,high,low,close,volume';

describe('klines files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qt-klines-'));
  const file = (name: string, body: string, gz = false) => {
    const p = join(dir, name);
    writeFileSync(p, gz ? gzipSync(body) : body);
    return p;
  };

  it('read .csv and .csv.gz, skip blank lines, infer the interval', () => {
    const body = `${HEADER}\n1000,1,2,0.5,1.5,10\n301000,1.5,1.6,1.4,1.5,0\n\n601000,1.5,1.5,1.5,1.5,3\n`;
    file('AAAUSDT.csv', body);
    file('BBBUSDT.csv.gz', body.replace(/\n$/, ''), true);
    const a = readKlinesFile(join(dir, 'AAAUSDT.csv'));
    expect(a).toEqual([
      { openTime: 1000, open: 1, high: 2, low: 0.5, close: 1.5, volume: 10 },
      { openTime: 301000, open: 1.5, high: 1.6, low: 1.4, close: 1.5, volume: 0 },
      { openTime: 601000, open: 1.5, high: 1.5, low: 1.5, close: 1.5, volume: 3 },
    ]);
    expect(readKlinesFile(join(dir, 'BBBUSDT.csv.gz'))).toEqual(a);
    expect(inferIntervalMs(a)).toBe(300_000);
    expect(listSymbolFiles(dir).map((f) => f.symbol)).toEqual(['AAAUSDT', 'BBBUSDT']);
    expect([...loadKlinesDir(dir, ['BBBUSDT']).keys()]).toEqual(['BBBUSDT']);
    expect(() => loadKlinesDir(dir, ['ZZZUSDT'])).toThrow(/no data file for ZZZUSDT/);
  });

  it('name the file and line of a bad row', () => {
    const bad = (name: string, rows: string) => () => readKlinesFile(file(name, `${HEADER}\n${rows}`));
    expect(bad('X1.csv', '1000,1,2,0.5,1.5,10\n2000,1,2,0.5,abc,10\n')).toThrow(/X1\.csv:3: bad close NaN/);
    expect(bad('X2.csv', '1000,1,2,0.5,1.5\n')).toThrow(/X2\.csv:2: expected 6 fields, got 5/);
    expect(bad('X3.csv', '2000,1,2,0.5,1.5,1\n1000,1,2,0.5,1.5,1\n')).toThrow(/X3\.csv:3: timestamp 1000 not after 2000/);
    expect(bad('X4.csv', '1000,1,0.9,0.5,1.5,1\n')).toThrow(/inconsistent OHLC/);
    expect(bad('X5.csv', '1000,1,2,0.5,1.5,-1\n')).toThrow(KlinesFileError);
    expect(() => readKlinesFile(file('X6.csv', 'time,o,h,l,c,v\n'))).toThrow(/X6\.csv:1: expected header/);
  });

  it('parse --from/--to as ISO dates or epoch ms', () => {
    expect(parseTime('2025-09-01', '--from')).toBe(Date.UTC(2025, 8, 1));
    expect(parseTime('1756684800000', '--from')).toBe(1756684800000);
    expect(() => parseTime('yesterday', '--to')).toThrow(/--to/);
  });
});
