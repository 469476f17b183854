import { closeSync, openSync, readSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';

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
  // Upper bound on rows: one per newline (plus a last line without one).
  let capacity = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) capacity++;
  const cols = [0, 1, 2, 3, 4, 5].map(() => new Float64Array(capacity));
  let count = 0;
  let priceDecimals = 0;
  let pos = text.startsWith('timestamp') ? text.indexOf('\n') + 1 : 0;
  if (pos === 0 && text.startsWith('timestamp')) pos = text.length;
  let line = 1;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    line++;
    if (end - pos > 1) {
      let field = 0;
      let start = pos;
      for (let i = pos; i <= end && field < 6; i++) {
        const ch = i < end ? text.charCodeAt(i) : 44;
        if (ch !== 44 && ch !== 13) continue;
        const value = parseDecimal(text, start, i);
        const decimals = lastDecimals;
        if (Number.isNaN(value)) throw new Error(`${symbol}: malformed number on line ${line}`);
        cols[field]![count] = value;
        // The first rows are enough to find the exchange's tick.
        if (field >= 1 && field <= 4 && count < 500 && decimals > priceDecimals) priceDecimals = decimals;
        field++;
        start = i + 1;
      }
      if (field < 6) throw new Error(`${symbol}: malformed line ${line}`);
      count++;
    }
    pos = end + 1;
  }
  const [openTime, open, high, low, close, volume] = cols.map((col) => col.slice(0, count));
  let intervalMs = Infinity;
  for (let i = 1; i < Math.min(count, 50); i++) intervalMs = Math.min(intervalMs, openTime![i]! - openTime![i - 1]!);
  if (!Number.isFinite(intervalMs)) intervalMs = 5 * 60_000;
  return { symbol, intervalMs, openTime: openTime!, open: open!, high: high!, low: low!, close: close!, volume: volume!, priceDecimals: Math.min(priceDecimals, 8) };
}

/** Significant decimals of the last number parsed (a module variable: no allocation per field). */
let lastDecimals = 0;

/**
 * A plain decimal ("123.4500") read straight from the text: digits as an integer divided by a power of ten,
 * which is exactly Number(string) while both fit in 2^53 and 10^22. Anything else goes through Number().
 * Sets `lastDecimals` (trailing zeros ignored).
 */
function parseDecimal(text: string, from: number, to: number): number {
  let mantissa = 0;
  let decimals = -1;
  let significantDecimals = 0;
  let negative = false;
  let i = from;
  if (text.charCodeAt(i) === 45) {
    negative = true;
    i++;
  }
  for (; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 && decimals < 0) {
      decimals = 0;
      continue;
    }
    if (c < 48 || c > 57) return slowDecimal(text.slice(from, to));
    mantissa = mantissa * 10 + (c - 48);
    if (decimals >= 0) {
      decimals++;
      if (c !== 48) significantDecimals = decimals;
    }
  }
  if (mantissa > Number.MAX_SAFE_INTEGER || decimals > 22) return slowDecimal(text.slice(from, to));
  const value = decimals > 0 ? mantissa / 10 ** decimals : mantissa;
  lastDecimals = significantDecimals;
  return negative ? -value : value;
}

function slowDecimal(s: string): number {
  const t = s.trim();
  const dot = t.indexOf('.');
  lastDecimals = dot < 0 ? 0 : t.slice(dot + 1).replace(/0+$/, '').length;
  return t === '' ? NaN : Number(t);
}

export interface KlineFileHead {
  firstOpenTime: number;
  firstClose: number;
  priceDecimals: number;
}

/** Bytes read to describe a file without loading it: over 500 rows (the rows the tick is taken from). */
const HEAD_BYTES_PLAIN = 64 * 1024;
const HEAD_BYTES_GZIP = 24 * 1024;

/** First candle and tick decimals of a file, from its first bytes only (cheap for hundreds of files). */
export function readKlineHead(symbol: string, path: string): KlineFileHead | null {
  const gz = path.endsWith('.gz');
  const size = gz ? HEAD_BYTES_GZIP : HEAD_BYTES_PLAIN;
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(size);
  let n: number;
  try {
    n = readSync(fd, buf, 0, size, 0);
  } finally {
    closeSync(fd);
  }
  const raw = buf.subarray(0, n);
  // A truncated gzip stream inflates to a prefix of the text with Z_SYNC_FLUSH.
  const text = (gz ? gunzipSync(raw, { finishFlush: zlibConstants.Z_SYNC_FLUSH }) : raw).toString('utf8');
  const complete = n < size && !gz ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  const s = parseKlineCsv(symbol, complete);
  if (s.openTime.length === 0) return null;
  return { firstOpenTime: s.openTime[0]!, firstClose: s.close[0]!, priceDecimals: s.priceDecimals };
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
