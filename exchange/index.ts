export * from './types.js';
export * from './errors.js';
export { BinanceFuturesAdapter, toExchangeError, type AdapterOptions } from './adapter.js';
export { ApiCredentials, loadApiKeys } from './credentials.js';
export { createExchange, VENUE_BASE_URLS, type ExchangeConfig, type Venue } from './factory.js';
export { DEFAULT_ORDER_CAPS, DEFAULT_PRICE_BAND_PCT, type OrderCaps } from './order-caps.js';
export { floorToStep, roundToTick, stepDecimals, definedOnly } from './rounding.js';
export * from './sim/index.js';
export { KlinesFileError, listKlineFiles, readCandleSeries, readCandles, loadCandlesDir, formatKlineCsv, type CandleSeries } from './klines-file.js';
