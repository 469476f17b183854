import { BinanceFuturesAdapter } from './adapter.js';
import type { ApiCredentials } from './credentials.js';
import { DEFAULT_ORDER_CAPS, type OrderCaps } from './order-caps.js';
import { DEV_API_KEY, DEV_API_SECRET } from './sim/server.js';

import type { Venue } from '../core/config.js';

export type { Venue };

export const VENUE_BASE_URLS: Record<Exclude<Venue, 'paper'>, string> = {
  testnet: 'https://testnet.binancefuture.com',
  live: 'https://fapi.binance.com',
};

export interface ExchangeConfig {
  venue: Venue;
  /** Required for paper (the local exchange's URL); overrides the default for testnet / live. */
  baseUrl?: string;
  /** Binance keys for testnet / live. Never sent to the paper venue, which has its own keys. */
  credentials?: ApiCredentials | { apiKey: string; apiSecret: string } | null;
  /** Explicit keys: for paper, the local exchange's keys when not the development defaults. */
  apiKey?: string;
  apiSecret?: string;
  timeoutMs?: number;
  /**
   * Request weight budget per minute the adapter keeps under (it waits when 95% is used). Default 2400
   * (Binance USD-M) for testnet and live; unlimited for paper, whose budget is the local machine's.
   */
  weightLimitPerMinute?: number;
  /** Live trading moves real money: the caller must say so explicitly. */
  allowLive?: boolean;
  /** The exchange's clock for the weight budget's minutes (tests move it by hand); see AdapterOptions. */
  serverClock?: () => number;
  /** Hard caps on opening orders and leverage, checked before anything is sent. Default DEFAULT_ORDER_CAPS. */
  caps?: OrderCaps;
}

/** The adapter for a venue. The same code path serves all three; only URL and keys differ. */
export function createExchange(cfg: ExchangeConfig): BinanceFuturesAdapter {
  let baseUrl = cfg.baseUrl;
  const explicit = cfg.apiKey && cfg.apiSecret ? { apiKey: cfg.apiKey, apiSecret: cfg.apiSecret } : null;
  // Real Binance keys found in the environment must not travel to the local exchange.
  const credentials = cfg.venue === 'paper' ? explicit : (cfg.credentials ?? explicit);
  if (cfg.venue === 'paper') {
    if (!baseUrl) throw new Error('paper venue needs the local exchange base URL');
  } else {
    // Signed requests carry the account's key: never over plain http (configuration also insists on
    // QT_ALLOW_CUSTOM_EXCHANGE_URL for any URL but Binance's own).
    if (baseUrl && !baseUrl.startsWith('https://')) throw new Error(`${cfg.venue} venue refuses a non-https exchange URL`);
    baseUrl ??= VENUE_BASE_URLS[cfg.venue];
    if (!credentials) throw new Error(`${cfg.venue} venue needs BINANCE_API_KEY and BINANCE_API_SECRET`);
  }
  if (cfg.venue === 'live' && !cfg.allowLive) throw new Error('live venue refused: live trading was not explicitly confirmed');
  const apiKey = credentials?.apiKey ?? DEV_API_KEY;
  const apiSecret = credentials?.apiSecret ?? DEV_API_SECRET;
  const weightLimitPerMinute = cfg.weightLimitPerMinute ?? (cfg.venue === 'paper' ? Infinity : 2400);
  return new BinanceFuturesAdapter({
    venue: cfg.venue,
    baseUrl,
    apiKey,
    apiSecret,
    weightLimitPerMinute,
    caps: cfg.caps ?? DEFAULT_ORDER_CAPS,
    ...(cfg.timeoutMs !== undefined ? { timeoutMs: cfg.timeoutMs } : {}),
    ...(cfg.serverClock ? { serverClock: cfg.serverClock } : {}),
  });
}
