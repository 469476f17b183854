/**
 * Request weights of the Binance USD-M endpoints this project uses, as Binance documents them (the endpoint
 * pages of developers.binance.com/docs/derivatives/usds-margined-futures, mirrored in the doc comments of
 * Binance's own connector, github.com/binance/binance-connector-js, clients/derivatives-trading-usds-futures).
 * The local exchange charges these; the adapter uses the same table to stay under the budget before the
 * server's X-MBX-USED-WEIGHT-1M header catches up with concurrent calls.
 *
 * New orders (`POST /fapi/v1/order`, `POST /fapi/v1/algoOrder`) weigh 0 on the IP limit: they count against
 * the account's order limits instead (ORDER_COUNT_LIMITS).
 */

export type WeightParams = { get(name: string): string | undefined };

/** Klines (and the other candle endpoints): by `limit`, default 500. */
export function klinesWeight(limit: number | undefined): number {
  const n = limit ?? 500;
  if (n < 100) return 1;
  if (n < 500) return 2;
  if (n <= 1000) return 5;
  return 10;
}

const bySymbol = (withSymbol: number, without: number) => (p: WeightParams): number => (p.get('symbol') ? withSymbol : without);
const fixed = (w: number) => (): number => w;

/** `METHOD /path` -> weight for the request's parameters. Unknown endpoints weigh 1. */
export const ENDPOINT_WEIGHTS: Record<string, (p: WeightParams) => number> = {
  'GET /fapi/v1/ping': fixed(1),
  'GET /fapi/v1/time': fixed(1),
  'GET /fapi/v1/exchangeInfo': fixed(1),
  'GET /fapi/v1/klines': (p) => klinesWeight(p.get('limit') ? Number(p.get('limit')) : undefined),
  'GET /fapi/v1/premiumIndex': bySymbol(1, 10),
  'GET /fapi/v1/ticker/price': bySymbol(1, 2),
  'GET /fapi/v2/ticker/price': bySymbol(1, 2),
  'GET /fapi/v2/balance': fixed(5),
  'GET /fapi/v3/balance': fixed(5),
  'GET /fapi/v2/account': fixed(5),
  'GET /fapi/v3/account': fixed(5),
  'GET /fapi/v2/positionRisk': fixed(5),
  'GET /fapi/v3/positionRisk': fixed(5),
  'POST /fapi/v1/leverage': fixed(1),
  'POST /fapi/v1/marginType': fixed(1),
  'GET /fapi/v1/positionSide/dual': fixed(30),
  'POST /fapi/v1/positionSide/dual': fixed(1),
  'POST /fapi/v1/order': fixed(0),
  'GET /fapi/v1/order': fixed(1),
  'DELETE /fapi/v1/order': fixed(1),
  'GET /fapi/v1/openOrder': fixed(1),
  'GET /fapi/v1/openOrders': bySymbol(1, 40),
  'GET /fapi/v1/userTrades': fixed(5),
  'POST /fapi/v1/algoOrder': fixed(0),
  'GET /fapi/v1/algoOrder': fixed(1),
  'DELETE /fapi/v1/algoOrder': fixed(1),
  'GET /fapi/v1/openAlgoOrders': bySymbol(1, 40),
};

export function requestWeight(method: string, path: string, params: WeightParams): number {
  const w = ENDPOINT_WEIGHTS[`${method} ${path}`];
  return w ? w(params) : 1;
}

/** Endpoints that count against the account's order limits (X-MBX-ORDER-COUNT-10S / -1M). */
export const ORDER_ENDPOINTS = new Set(['POST /fapi/v1/order', 'POST /fapi/v1/algoOrder']);

/** Binance USD-M's default limits as `GET /fapi/v1/exchangeInfo` lists them. */
export const DEFAULT_WEIGHT_LIMIT_PER_MINUTE = 2400;
export const ORDER_COUNT_LIMITS = { per10s: 300, perMinute: 1200 } as const;
