import type { SymbolRules } from '../types.js';
import { snapshotRules } from './filters-snapshot.js';

/** Quote (and margin) asset of a symbol; the local exchange lists USDT- and USDC-margined symbols only. */
export function quoteOf(symbol: string): string | null {
  for (const q of ['USDT', 'USDC']) if (symbol.endsWith(q) && symbol.length > q.length) return q;
  return null;
}

/** Decimal places of a power-of-ten step such as 0.001 (3) or 10 (0). */
export function decimalsOfStep(step: number): number {
  if (step >= 1) return 0;
  return Math.max(0, Math.round(-Math.log10(step)));
}

/** Binance's filters from the shipped snapshot; for a symbol it does not list, rules derived from the data. */
export function rulesFor(symbol: string, referencePrice: number, priceDecimals: number): SymbolRules {
  return snapshotRules(symbol) ?? deriveRules(symbol, referencePrice, priceDecimals);
}

/**
 * Filters for a symbol neither the data nor the snapshot describes. The tick comes from the decimals the price data uses; the
 * step is chosen so one step is worth roughly one quote unit, like Binance's own listings (BTC 0.001,
 * ETH 0.001, SOL 0.01, DOGE 1), clamped to [0.001, 1000].
 */
export function deriveRules(symbol: string, referencePrice: number, priceDecimals: number, minNotional = 5): SymbolRules {
  const quoteAsset = quoteOf(symbol);
  if (!quoteAsset) throw new Error(`unsupported symbol ${symbol}`);
  const tickSize = Number((10 ** -priceDecimals).toFixed(priceDecimals));
  const rawStep = referencePrice > 0 ? 10 ** Math.floor(Math.log10(1 / referencePrice)) : 1;
  const stepSize = Math.min(1000, Math.max(0.001, rawStep));
  const stepDecimals = decimalsOfStep(stepSize);
  const step = Number(stepSize.toFixed(stepDecimals));
  // Room for about 10 million quote units in one market order.
  const maxQty = Math.max(step, Math.floor(10_000_000 / Math.max(referencePrice, 1e-12) / step) * step);
  return {
    symbol,
    quoteAsset,
    tickSize,
    stepSize: step,
    marketStepSize: step,
    minQty: step,
    marketMaxQty: Number(maxQty.toFixed(stepDecimals)),
    minNotional,
  };
}

/** The exchangeInfo entry of one symbol, in Binance's shape. */
export function exchangeInfoSymbol(r: SymbolRules, listedAt: number): Record<string, unknown> {
  const pd = decimalsOfStep(r.tickSize);
  const qd = decimalsOfStep(r.stepSize);
  const base = r.symbol.slice(0, r.symbol.length - r.quoteAsset.length);
  return {
    symbol: r.symbol,
    pair: r.symbol,
    contractType: 'PERPETUAL',
    deliveryDate: 4133404800000,
    onboardDate: listedAt,
    status: 'TRADING',
    maintMarginPercent: '2.5000',
    requiredMarginPercent: '5.0000',
    baseAsset: base,
    quoteAsset: r.quoteAsset,
    marginAsset: r.quoteAsset,
    pricePrecision: pd,
    quantityPrecision: qd,
    baseAssetPrecision: 8,
    quotePrecision: 8,
    underlyingType: 'COIN',
    underlyingSubType: [],
    triggerProtect: '0.0500',
    liquidationFee: '0.012500',
    marketTakeBound: '0.05',
    maxMoveOrderLimit: 10000,
    filters: [
      { filterType: 'PRICE_FILTER', tickSize: r.tickSize.toFixed(pd), minPrice: r.tickSize.toFixed(pd), maxPrice: '10000000' },
      { filterType: 'LOT_SIZE', stepSize: r.stepSize.toFixed(qd), minQty: r.minQty.toFixed(qd), maxQty: r.marketMaxQty.toFixed(qd) },
      { filterType: 'MARKET_LOT_SIZE', stepSize: r.marketStepSize.toFixed(qd), minQty: r.minQty.toFixed(qd), maxQty: r.marketMaxQty.toFixed(qd) },
      { filterType: 'MAX_NUM_ORDERS', limit: 200 },
      { filterType: 'MAX_NUM_ALGO_ORDERS', limit: 10 },
      { filterType: 'MIN_NOTIONAL', notional: String(r.minNotional) },
      { filterType: 'PERCENT_PRICE', multiplierUp: '1.0500', multiplierDown: '0.9500', multiplierDecimal: '4' },
    ],
    orderTypes: ['MARKET'],
    timeInForce: ['GTC', 'IOC', 'FOK', 'GTX'],
  };
}
