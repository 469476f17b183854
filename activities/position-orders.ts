import { entryQuantity, saneEntryPrice } from '../core/mark-sanity.js';
import type { OrderAnswer } from '../core/position-lifecycle.js';
import type { FillFact, OrderFact } from '../core/position-orders.js';
import { entryOrderSide, exitOrderSide } from '../core/types.js';
import { BinanceCode, ExchangeError } from '../exchange/errors.js';
import type { Fill, FuturesExchange, OrderState } from '../exchange/types.js';
import type { TradingActivities } from './contracts.js';
import { keepAlive, type ActivityDeps } from './deps.js';
import { toActivityError } from './idempotent-orders.js';

/**
 * The orders of the position lifecycle. Each activity answers with what the exchange said, as a fact; it
 * never retries a send itself. What an unknown outcome means is decided by the lifecycle (core/), which
 * looks the id up and resends only when the earlier request can no longer execute.
 */

export const orderFact = (o: OrderState): OrderFact => ({
  clientOrderId: o.clientOrderId,
  orderId: o.orderId,
  side: o.side,
  status: o.status,
  origQty: o.origQty,
  executedQty: o.executedQty,
  avgPrice: o.avgPrice,
  updateTime: o.updateTime,
});

export const fillFact = (f: Fill): FillFact => ({
  tradeId: f.tradeId,
  orderId: f.orderId,
  side: f.side,
  price: f.price,
  qty: f.qty,
  quoteQty: f.quoteQty,
  commission: f.commission,
  commissionAsset: f.commissionAsset,
  realizedPnl: f.realizedPnl,
  time: f.time,
});

const text = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const retryAfter = (err: unknown): { retryAfterMs?: number } =>
  err instanceof ExchangeError && err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {};

/** A failure before the order was sent: nothing executed. A refusal is final; anything else may pass next time. */
function failedBeforeSending(err: unknown): OrderAnswer {
  if (err instanceof ExchangeError && err.kind === 'rejected') return { outcome: 'REFUSED', reason: err.message, code: err.code ?? null };
  return { outcome: 'NOT_SENT', reason: text(err), ...retryAfter(err) };
}

/**
 * Send one order. Only an answer that proves the request did not execute is NOT_SENT or REFUSED; a timeout,
 * a lost connection or a 5xx with unknown status is UNKNOWN. A duplicate id (-4116) means an order with
 * this id exists: it is looked up and is the answer.
 */
async function send(ex: FuturesExchange, symbol: string, clientOrderId: string, place: () => Promise<OrderState>, referencePrice?: number): Promise<OrderAnswer> {
  const ref = referencePrice === undefined ? {} : { referencePrice };
  try {
    return { outcome: 'ORDER', order: orderFact(await place()), ...ref };
  } catch (err) {
    if (!(err instanceof ExchangeError)) return { outcome: 'UNKNOWN', reason: text(err), ...ref };
    if (err.code === BinanceCode.DUPLICATE_CLIENT_ID) {
      const existing = await ex.getOrder(symbol, clientOrderId).catch(() => null);
      return existing ? { outcome: 'ORDER', order: orderFact(existing), ...ref } : { outcome: 'UNKNOWN', reason: `${err.message}; the order is not visible yet`, ...ref };
    }
    if (err.kind === 'retryable') return { outcome: 'NOT_SENT', reason: err.message, ...retryAfter(err) };
    if (err.kind === 'rejected') return { outcome: 'REFUSED', reason: err.message, code: err.code ?? null };
    return { outcome: 'UNKNOWN', reason: err.message, ...ref };
  }
}

type OrderActivities = Pick<TradingActivities, 'submitEntry' | 'submitExit' | 'lookupOrders' | 'cancelOpenOrder' | 'fetchFills'>;

export function positionOrderActivities({ exchange: ex }: ActivityDeps): OrderActivities {
  return {
    submitEntry(req) {
      return keepAlive(async (): Promise<OrderAnswer> => {
        let quantity: number;
        let price: number;
        try {
          const existing = await ex.getOrder(req.symbol, req.clientOrderId);
          if (existing) return { outcome: 'ORDER', order: orderFact(existing) };
          await ex.prepareSymbol(req.symbol, req.leverage);
          // Size from the mark only when the latest trade price agrees with it: one bad print never sizes an order.
          const [mark, last] = await Promise.all([ex.markPrice(req.symbol), ex.lastPrice(req.symbol)]);
          const sane = saneEntryPrice(mark, last);
          if (!sane.ok) return { outcome: 'NOT_SENT', reason: `no sane price to size from: ${sane.reason}` };
          const q = entryQuantity(req.notional, sane.price);
          if (q === null) return { outcome: 'REFUSED', reason: `notional ${req.notional} at ${sane.price} gives no quantity`, code: null };
          quantity = q;
          price = sane.price;
        } catch (err) {
          return failedBeforeSending(err);
        }
        const order = { symbol: req.symbol, side: entryOrderSide(req.side), quantity, referencePrice: price, clientOrderId: req.clientOrderId, sendBefore: req.sendBefore };
        return send(ex, req.symbol, req.clientOrderId, () => ex.placeMarketOrder(order), price);
      });
    },

    submitExit(req) {
      return keepAlive(async (): Promise<OrderAnswer> => {
        let quantity: number;
        const readAt = Date.now();
        try {
          const existing = await ex.getOrder(req.symbol, req.clientOrderId);
          if (existing) return { outcome: 'ORDER', order: orderFact(existing) };
          const [pos] = await ex.positions(req.symbol);
          const ours = (req.side === 'LONG' ? 1 : -1) * (pos?.positionAmt ?? 0);
          if (!(ours > 0)) return { outcome: 'FLAT', at: readAt };
          quantity = req.quantity === null ? ours : Math.min(req.quantity, ours);
        } catch (err) {
          return failedBeforeSending(err);
        }
        const order = { symbol: req.symbol, side: exitOrderSide(req.side), quantity, reduceOnly: true, clientOrderId: req.clientOrderId, sendBefore: req.sendBefore };
        const answer = await send(ex, req.symbol, req.clientOrderId, () => ex.placeMarketOrder(order));
        // Reduce-only refused: there is nothing on our side to reduce (the stop, or someone, closed it).
        if (answer.outcome === 'REFUSED' && answer.code === BinanceCode.REDUCE_ONLY_REJECT) return { outcome: 'FLAT', at: Date.now() };
        return answer;
      });
    },

    async lookupOrders({ symbol, clientOrderIds }) {
      const at = Date.now();
      try {
        const orders: Record<string, OrderFact | null> = {};
        for (const id of clientOrderIds) {
          const o = await ex.getOrder(symbol, id);
          orders[id] = o ? orderFact(o) : null;
        }
        return { at, orders };
      } catch (err) {
        throw toActivityError(err);
      }
    },

    async cancelOpenOrder({ symbol, clientOrderId }) {
      try {
        await ex.cancelOrder(symbol, clientOrderId).catch((err: unknown) => {
          // Not open (any more): what it ended as is read below.
          if (!(err instanceof ExchangeError && (err.code === BinanceCode.CANCEL_REJECTED || err.code === BinanceCode.NO_SUCH_ORDER))) throw err;
        });
        const o = await ex.getOrder(symbol, clientOrderId);
        return o ? orderFact(o) : null;
      } catch (err) {
        throw toActivityError(err);
      }
    },

    async fetchFills({ symbol, orderId }) {
      try {
        return (await ex.tradesForOrder(symbol, orderId)).map(fillFact);
      } catch (err) {
        throw toActivityError(err);
      }
    },
  };
}
