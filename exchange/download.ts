import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { USDMClient } from 'binance';
import { toExchangeError } from './adapter.js';
import { VENUE_BASE_URLS } from './factory.js';
import { intervalToMs } from './sim/feed.js';
import { formatKlineCsv } from './klines-file.js';

export interface DownloadOptions {
  symbols: string[];
  interval: string;
  /** Inclusive open time of the first candle, ms UTC. */
  from: number;
  /** Exclusive end: candles opening at or after `to` are not written. */
  to: number;
  outDir: string;
  /** Default: Binance USD-M (public endpoint, no key needed). */
  baseUrl?: string;
  timeoutMs?: number;
  /** Candles per request; Binance's maximum (1500) unless testing the paging. */
  pageSize?: number;
  onProgress?: (symbol: string, candles: number) => void;
}

/** Binance's maximum page size for /fapi/v1/klines. */
const PAGE = 1500;

/**
 * Pages through the public klines endpoint and writes `SYMBOL.csv.gz` in the project's format. Only closed
 * candles are written (the one still forming is left out). Files are written atomically.
 */
export async function downloadKlines(opts: DownloadOptions): Promise<Map<string, number>> {
  const intervalMs = intervalToMs(opts.interval);
  if (!intervalMs) throw new Error(`unsupported interval ${opts.interval}`);
  if (!(opts.to > opts.from)) throw new Error('--to must be after --from');
  const client = new USDMClient({ baseUrl: (opts.baseUrl ?? VENUE_BASE_URLS.live).replace(/\/$/, ''), parseExceptions: false }, { timeout: opts.timeoutMs ?? 20_000 });
  mkdirSync(opts.outDir, { recursive: true });
  const pageSize = opts.pageSize ?? PAGE;
  const counts = new Map<string, number>();
  for (const symbol of opts.symbols) {
    const rows: Array<[number, string, string, string, string, string]> = [];
    // The exchange's own clock decides which candle is still forming (in a replay it is historical time).
    const mark = await client.getMarkPrice({ symbol }).catch((e: unknown) => {
      throw toExchangeError(`premiumIndex ${symbol}`, e);
    });
    const now = Number(mark.time) || Date.now();
    let start = opts.from;
    while (start < opts.to) {
      const page = await client
        .getKlines({ symbol, interval: opts.interval as never, startTime: start, endTime: opts.to - 1, limit: pageSize })
        .catch((e: unknown) => {
          throw toExchangeError(`klines ${symbol}`, e);
        });
      for (const k of page) {
        const open = Number(k[0]);
        if (open < opts.from || open >= opts.to) continue;
        if (open + intervalMs > now) continue;
        if (rows.length && open <= rows[rows.length - 1]![0]) continue;
        rows.push([open, String(k[1]), String(k[2]), String(k[3]), String(k[4]), String(k[5])]);
      }
      if (page.length === 0) break;
      const lastOpen = Number(page[page.length - 1]![0]);
      if (lastOpen + intervalMs <= start) break;
      start = lastOpen + intervalMs;
      if (page.length < pageSize) break;
      opts.onProgress?.(symbol, rows.length);
    }
    const path = join(opts.outDir, `${symbol}.csv.gz`);
    writeFileSync(`${path}.tmp`, gzipSync(formatKlineCsv(rows)));
    renameSync(`${path}.tmp`, path);
    counts.set(symbol, rows.length);
  }
  return counts;
}

export { parseTime } from '../core/config.js';
