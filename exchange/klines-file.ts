import { closeSync, openSync, readSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { candleProblem } from '../core/features.js';
import type { Candle } from '../core/types.js';

/**
 * The project's market data format, read in one place by the local exchange, the dataset builder and the
 * backtester: one file per symbol, `SYMBOL.csv` or `SYMBOL.csv.gz`, header `timestamp,open,high,low,close,volume`,
 * timestamp = candle open time in ms UTC, oldest first. Every row is checked: six finite fields, prices above
 * zero, volume not negative, consistent OHLC (low <= open, close <= high), time strictly increasing. A bad row
 * stops the read with a KlinesFileError naming the file and line.
 *
 * Candles are kept in columns (typed arrays): a few hundred symbols x months of 5m candles stay small, and the
 * text is scanned by hand (no split per line, no string per field).
 */
export interface CandleSeries {
  symbol: string;
  /** The most common spacing between candles (ms). */
  intervalMs: number;
  openTime: Float64Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
  /** Most decimals seen in a price string of the first rows: the tick size is 10^-priceDecimals. */
  priceDecimals: number;
}

/** A data file that does not follow the format; names the file and line. */
export class KlinesFileError extends Error {
  constructor(readonly file: string, readonly line: number, detail: string) {
    super(`${file}:${line}: ${detail}`);
    this.name = 'KlinesFileError';
  }
}

export const KLINES_HEADER = 'timestamp,open,high,low,close,volume';
const FILE_PATTERN = /^([A-Z0-9]+)\.csv(\.gz)?$/;
const DEFAULT_INTERVAL_MS = 5 * 60_000;
/** The first rows are enough to find the exchange's tick. */
const DECIMALS_FROM_ROWS = 500;

/** Symbols present in a data directory, sorted, mapped to their file path (a .csv wins over its .csv.gz). */
export function listKlineFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const m = FILE_PATTERN.exec(name);
    if (m && !files.has(m[1]!)) files.set(m[1]!, join(dir, name));
  }
  return files;
}

export function symbolOfFile(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const m = FILE_PATTERN.exec(name);
  if (!m) throw new KlinesFileError(path, 0, 'file name must be SYMBOL.csv or SYMBOL.csv.gz');
  return m[1]!;
}

/** One whole file, checked, in columns. */
export function readCandleSeries(path: string, symbol = symbolOfFile(path)): CandleSeries {
  const raw = readFileSync(path);
  const text = (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
  const series = parseKlineCsv(text, path, symbol);
  if (series.openTime.length === 0) throw new KlinesFileError(path, 1, 'no candles');
  return series;
}

/** One whole file, checked, as candle objects. */
export function readCandles(path: string): Candle[] {
  return toCandles(readCandleSeries(path));
}

export function toCandles(s: CandleSeries): Candle[] {
  const out: Candle[] = new Array(s.openTime.length);
  for (let i = 0; i < out.length; i++) out[i] = { openTime: s.openTime[i]!, open: s.open[i]!, high: s.high[i]!, low: s.low[i]!, close: s.close[i]!, volume: s.volume[i]! };
  return out;
}

/** The requested symbols (all files when none given); an unknown symbol is an error. */
export function loadCandlesDir(dir: string, symbols?: readonly string[]): Map<string, Candle[]> {
  const files = listKlineFiles(dir);
  if (files.size === 0) throw new Error(`no SYMBOL.csv or SYMBOL.csv.gz files in ${dir}`);
  const wanted = symbols && symbols.length > 0 ? symbols : [...files.keys()];
  const out = new Map<string, Candle[]>();
  for (const s of wanted) {
    const path = files.get(s);
    if (!path) throw new Error(`no data file for ${s} in ${dir}`);
    out.set(s, readCandles(path));
  }
  return out;
}

/** Scratch candle for the row checks: no allocation per row. */
const row: Candle = { openTime: 0, open: 0, high: 0, low: 0, close: 0, volume: 0 };

/** Parses the text of a file, or a prefix of it cut at a line end (`file` names it in errors). */
export function parseKlineCsv(text: string, file: string, symbol: string): CandleSeries {
  const firstBreak = text.indexOf('\n');
  const header = (firstBreak < 0 ? text : text.slice(0, firstBreak)).trim().toLowerCase();
  if (header !== KLINES_HEADER) throw new KlinesFileError(file, 1, `expected header ${KLINES_HEADER}, got "${header.slice(0, 80)}"`);
  // Upper bound on rows: one per newline (plus a last line without one).
  let capacity = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) capacity++;
  const cols = [0, 1, 2, 3, 4, 5].map(() => new Float64Array(capacity));
  const [t, o, h, l, c, v] = cols as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  let count = 0;
  let priceDecimals = 0;
  let pos = firstBreak < 0 ? text.length : firstBreak + 1;
  for (let line = 2; pos < text.length; line++) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    let lineEnd = end;
    if (lineEnd > pos && text.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    if (lineEnd === pos) {
      pos = end + 1;
      continue; // blank line
    }
    let field = 0;
    let start = pos;
    for (let i = pos; i <= lineEnd; i++) {
      if (i < lineEnd && text.charCodeAt(i) !== 44) continue;
      if (field < 6) {
        const value = start === i ? NaN : parseDecimal(text, start, i);
        cols[field]![count] = value;
        if (field >= 1 && field <= 4 && count < DECIMALS_FROM_ROWS && lastDecimals > priceDecimals) priceDecimals = lastDecimals;
      }
      field++;
      start = i + 1;
    }
    if (field !== 6) throw new KlinesFileError(file, line, `expected 6 fields, got ${field}`);
    row.openTime = t[count]!;
    row.open = o[count]!;
    row.high = h[count]!;
    row.low = l[count]!;
    row.close = c[count]!;
    row.volume = v[count]!;
    const problem = candleProblem(row);
    if (problem) throw new KlinesFileError(file, line, problem);
    if (!Number.isInteger(row.openTime)) throw new KlinesFileError(file, line, `timestamp ${row.openTime} is not whole milliseconds`);
    if (count > 0 && row.openTime <= t[count - 1]!) {
      const what = row.openTime === t[count - 1]! ? 'repeats' : 'is before';
      throw new KlinesFileError(file, line, `timestamp ${row.openTime} ${what} the previous one (${t[count - 1]}): time must go forward`);
    }
    count++;
    pos = end + 1;
  }
  const [openTime, open, high, low, close, volume] = cols.map((col) => col.slice(0, count)) as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  return { symbol, intervalMs: mostCommonSpacing(openTime) ?? DEFAULT_INTERVAL_MS, openTime, open, high, low, close, volume, priceDecimals: Math.min(priceDecimals, 8) };
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
  if (i === to) return slowDecimal(text.slice(from, to));
  for (; i < to; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 46 && decimals < 0) {
      decimals = 0;
      continue;
    }
    if (ch < 48 || ch > 57) return slowDecimal(text.slice(from, to));
    mantissa = mantissa * 10 + (ch - 48);
    if (decimals >= 0) {
      decimals++;
      if (ch !== 48) significantDecimals = decimals;
    }
  }
  if (mantissa > Number.MAX_SAFE_INTEGER || decimals > 22) return slowDecimal(text.slice(from, to));
  const value = decimals > 0 ? mantissa / 10 ** decimals : mantissa;
  lastDecimals = significantDecimals;
  return negative ? -value : value;
}

function slowDecimal(s: string): number {
  const trimmed = s.trim();
  const dot = trimmed.indexOf('.');
  lastDecimals = dot < 0 ? 0 : trimmed.slice(dot + 1).replace(/0+$/, '').length;
  return trimmed === '' ? NaN : Number(trimmed);
}

/** The most common spacing between consecutive times (first 2000), or undefined with fewer than two. */
function mostCommonSpacing(times: ArrayLike<number>): number | undefined {
  const counts = new Map<number, number>();
  for (let i = 1; i < Math.min(times.length, 2000); i++) {
    const d = times[i]! - times[i - 1]!;
    counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  let best: number | undefined;
  let bestCount = 0;
  for (const [d, n] of counts) if (n > bestCount) [best, bestCount] = [d, n];
  return best;
}

/** The kline interval of a candle list: the most common spacing between consecutive candles. */
export function inferIntervalMs(candles: readonly Candle[]): number {
  const best = mostCommonSpacing(candles.slice(0, 2000).map((c) => c.openTime));
  if (best === undefined || best <= 0) throw new Error('cannot infer the kline interval from fewer than two candles');
  return best;
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
export function readKlineHead(path: string, symbol = symbolOfFile(path)): KlineFileHead | null {
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
  const whole = !gz && n < size;
  const complete = whole ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  const s = parseKlineCsv(complete, path, symbol);
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
  return `${KLINES_HEADER}\n` + rows.map((r) => r.join(',')).join('\n') + (rows.length ? '\n' : '');
}
