import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * The project's market data format: one file per symbol, `SYMBOL.csv` or `SYMBOL.csv.gz`, header
 * `timestamp,open,high,low,close,volume`, timestamp = candle open time in ms UTC, oldest first.
 * Candles are kept in columns (typed arrays): a few hundred symbols x months of 5m candles stay small.
 */
export interface CandleSeries {
  symbol: string;
  intervalMs: number;
  openTime: Float64Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
  /** Most decimals seen in a price string: the tick size is 10^-priceDecimals. */
  priceDecimals: number;
}

const FILE_PATTERN = /^([A-Z0-9]+)\.csv(\.gz)?$/;

/** Symbols present in a data directory, mapped to their file path. */
export function listKlineFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const m = FILE_PATTERN.exec(name);
    if (m) files.set(m[1]!, join(dir, name));
  }
  return files;
}

export function readKlineFile(symbol: string, path: string): CandleSeries {
  const raw = readFileSync(path);
  const text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  return parseKlineCsv(symbol, text);
}

export function parseKlineCsv(symbol: string, text: string): CandleSeries {
  const lines = text.split('\n');
  const start = lines[0]?.startsWith('timestamp') ? 1 : 0;
  const n = lines.length - start;
  const cols = [0, 1, 2, 3, 4, 5].map(() => new Float64Array(n));
  let count = 0;
  let priceDecimals = 0;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    const parts = line.split(',');
    if (parts.length < 6) throw new Error(`${symbol}: malformed line ${i + 1}`);
    for (let c = 0; c < 6; c++) cols[c]![count] = Number(parts[c]);
    // Sampling the decimals of the first rows is enough to find the exchange's tick.
    if (count < 500) for (let c = 1; c < 5; c++) priceDecimals = Math.max(priceDecimals, decimalsOf(parts[c]!));
    count++;
  }
  const [openTime, open, high, low, close, volume] = cols.map((col) => col.slice(0, count));
  let intervalMs = Infinity;
  for (let i = 1; i < Math.min(count, 50); i++) intervalMs = Math.min(intervalMs, openTime![i]! - openTime![i - 1]!);
  if (!Number.isFinite(intervalMs)) intervalMs = 5 * 60_000;
  return { symbol, intervalMs, openTime: openTime!, open: open!, high: high!, low: low!, close: close!, volume: volume!, priceDecimals: Math.min(priceDecimals, 8) };
}

function decimalsOf(s: string): number {
  const dot = s.indexOf('.');
  if (dot < 0) return 0;
  let end = s.length;
  while (end > dot + 1 && s[end - 1] === '0') end--;
  return end - dot - 1;
}

/** Index of the last candle with openTime <= t, or -1. Binary search. */
export function candleIndexAt(series: CandleSeries, t: number): number {
  const times = series.openTime;
  let lo = 0;
  let hi = times.length - 1;
  if (hi < 0 || times[0]! > t) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid]! <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Formats candles in the project's CSV format. */
export function formatKlineCsv(rows: Array<[number, string, string, string, string, string]>): string {
  return 'timestamp,open,high,low,close,volume\n' + rows.map((r) => r.join(',')).join('\n') + (rows.length ? '\n' : '');
}
