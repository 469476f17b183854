import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Candle } from '../core/types.js';
import { candleProblem } from '../core/features.js';

/** A data file that does not follow `timestamp,open,high,low,close,volume`; names the file and line. */
export class KlinesFileError extends Error {
  constructor(readonly file: string, readonly line: number, detail: string) {
    super(`${file}:${line}: ${detail}`);
    this.name = 'KlinesFileError';
  }
}

const FILE_PATTERN = /^([A-Z0-9]+)\.csv(\.gz)?$/;

/** Symbol files in a data directory (`SYMBOL.csv` or `SYMBOL.csv.gz`), sorted by symbol. */
export function listSymbolFiles(dir: string): { symbol: string; path: string }[] {
  const found = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const m = FILE_PATTERN.exec(name);
    if (m && !found.has(m[1]!)) found.set(m[1]!, join(dir, name));
  }
  return [...found].map(([symbol, path]) => ({ symbol, path }));
}

/** Read and validate one klines file. Rows must be well-formed and strictly increasing in time. */
export function readKlinesFile(path: string): Candle[] {
  const raw = readFileSync(path);
  const text = path.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  const firstBreak = text.indexOf('\n');
  const header = (firstBreak < 0 ? text : text.slice(0, firstBreak)).trim().toLowerCase();
  if (header !== 'timestamp,open,high,low,close,volume') throw new KlinesFileError(path, 1, `expected header timestamp,open,high,low,close,volume, got "${header}"`);
  const out: Candle[] = [];
  const fields: number[] = [0, 0, 0, 0, 0, 0];
  // Scanned by hand (no split per line): a 45-symbol directory has millions of fields.
  let pos = firstBreak < 0 ? text.length : firstBreak + 1;
  for (let lineNo = 2; pos < text.length; lineNo++) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    let count = 0;
    let start = pos;
    for (let i = pos; i <= end; i++) {
      if (i === end || text.charCodeAt(i) === 44) {
        if (count < 6) fields[count] = start === i ? Number.NaN : Number(text.slice(start, i));
        count++;
        start = i + 1;
      }
    }
    const blank = end - pos <= 1 && text.slice(pos, end).trim() === '';
    pos = end + 1;
    if (blank) continue;
    if (count !== 6) throw new KlinesFileError(path, lineNo, `expected 6 fields, got ${count}`);
    const c: Candle = { openTime: fields[0]!, open: fields[1]!, high: fields[2]!, low: fields[3]!, close: fields[4]!, volume: fields[5]! };
    const problem = candleProblem(c);
    if (problem) throw new KlinesFileError(path, lineNo, problem);
    const prev = out[out.length - 1];
    if (prev && c.openTime <= prev.openTime) throw new KlinesFileError(path, lineNo, `timestamp ${c.openTime} not after ${prev.openTime}`);
    out.push(c);
  }
  if (out.length === 0) throw new KlinesFileError(path, 1, 'no candles');
  return out;
}

/** Load the requested symbols (all files when none given); an unknown symbol is an error. */
export function loadKlinesDir(dir: string, symbols?: readonly string[]): Map<string, Candle[]> {
  const files = listSymbolFiles(dir);
  if (files.length === 0) throw new Error(`no SYMBOL.csv or SYMBOL.csv.gz files in ${dir}`);
  const wanted = symbols && symbols.length > 0 ? symbols : files.map((f) => f.symbol);
  const out = new Map<string, Candle[]>();
  for (const s of wanted) {
    const f = files.find((x) => x.symbol === s);
    if (!f) throw new Error(`no data file for ${s} in ${dir}`);
    out.set(s, readKlinesFile(f.path));
  }
  return out;
}

/** The kline interval of a series: the most common spacing between consecutive candles. */
export function inferIntervalMs(candles: readonly Candle[]): number {
  const counts = new Map<number, number>();
  for (let i = 1; i < Math.min(candles.length, 2000); i++) {
    const d = candles[i]!.openTime - candles[i - 1]!.openTime;
    counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  let best = 0;
  let bestCount = -1;
  for (const [d, n] of counts) if (n > bestCount) [best, bestCount] = [d, n];
  if (best <= 0) throw new Error('cannot infer the kline interval from fewer than two candles');
  return best;
}

/** Flags take the same times as the configuration (UTC unless a zone is given). */
export { parseTime } from '../core/config.js';
