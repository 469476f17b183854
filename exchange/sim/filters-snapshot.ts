import { readFileSync } from 'node:fs';
import type { SymbolRules } from '../types.js';

/**
 * Binance USD-M symbol filters captured from the live exchangeInfo (see `source` and `asOf` in the JSON and
 * exchange/README.md), for the symbols of the shared data and their USDC twins. The local exchange applies
 * them instead of rules derived from the price data, so paper trading meets Binance's real tick, lot step
 * and min notional (BTCUSDT 100, ETHUSDT 20, most others 5).
 */
export interface FiltersSnapshot {
  source: string;
  serverTime: number;
  asOf: string;
  /** Shared-data symbols the snapshot does not list: their rules stay derived from the data. */
  notListed: string[];
  symbols: Record<string, SnapshotFilters>;
}

/** Decimal strings exactly as Binance sends them. */
export interface SnapshotFilters {
  quoteAsset: string;
  marginAsset: string;
  tickSize: string;
  stepSize: string;
  minQty: string;
  maxQty: string;
  marketStepSize: string;
  marketMinQty: string;
  marketMaxQty: string;
  minNotional: string;
}

export const FILTERS_SNAPSHOT_FILE = new URL('./binance-usdm-filters.json', import.meta.url);

let cached: FiltersSnapshot | null = null;

export function filtersSnapshot(): FiltersSnapshot {
  cached ??= JSON.parse(readFileSync(FILTERS_SNAPSHOT_FILE, 'utf8')) as FiltersSnapshot;
  return cached;
}

/** Binance's rules for a symbol, or undefined when the snapshot does not list it. */
export function snapshotRules(symbol: string): SymbolRules | undefined {
  const f = filtersSnapshot().symbols[symbol];
  if (!f) return undefined;
  return {
    symbol,
    quoteAsset: f.marginAsset,
    tickSize: Number(f.tickSize),
    stepSize: Number(f.stepSize),
    marketStepSize: Number(f.marketStepSize),
    minQty: Math.max(Number(f.minQty), Number(f.marketMinQty)),
    marketMaxQty: Number(f.marketMaxQty),
    minNotional: Number(f.minNotional),
  };
}
