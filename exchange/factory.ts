import { BinanceFuturesAdapter } from './adapter.js';
import type { ApiCredentials } from './credentials.js';
import { DEV_API_KEY, DEV_API_SECRET } from './sim/server.js';

export type Venue = 'paper' | 'testnet' | 'live';

export const VENUE_BASE_URLS: Record<Exclude<Venue, 'paper'>, string> = {
  testnet: 'https://testnet.binancefuture.com',
  live: 'https://fapi.binance.com',
};

export interface ExchangeConfig {
  venue: Venue;
  /** Required for paper (the local exchange's URL); overrides the default for testnet / live. */
  baseUrl?: string;
  /** Paper defaults to the local exchange's development keys. */
  credentials?: ApiCredentials | { apiKey: string; apiSecret: string } | null;
  timeoutMs?: number;
  /** Live trading moves real money: the caller must say so explicitly. */
  allowLive?: boolean;
}

/** The adapter for a venue. The same code path serves all three; only URL and keys differ. */
export function createExchange(cfg: ExchangeConfig): BinanceFuturesAdapter {
  let baseUrl = cfg.baseUrl;
  if (cfg.venue === 'paper') {
    if (!baseUrl) throw new Error('paper venue needs the local exchange base URL');
  } else {
    baseUrl ??= VENUE_BASE_URLS[cfg.venue];
    if (!cfg.credentials) throw new Error(`${cfg.venue} venue needs BINANCE_API_KEY and BINANCE_API_SECRET`);
  }
  if (cfg.venue === 'live' && !cfg.allowLive) throw new Error('live venue refused: live trading was not explicitly confirmed');
  const apiKey = cfg.credentials?.apiKey ?? DEV_API_KEY;
  const apiSecret = cfg.credentials?.apiSecret ?? DEV_API_SECRET;
  return new BinanceFuturesAdapter({ venue: cfg.venue, baseUrl, apiKey, apiSecret, ...(cfg.timeoutMs !== undefined ? { timeoutMs: cfg.timeoutMs } : {}) });
}
