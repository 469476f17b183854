export { startLocalExchange, DEV_API_KEY, DEV_API_SECRET, type LocalExchange, type LocalExchangeOptions, type FeedOptions } from './server.js';
export type { FaultConfig } from './faults.js';
export { hmacSignature } from './signature.js';
export { intervalToMs, type MarketFeed, type KlineRow } from './feed.js';
