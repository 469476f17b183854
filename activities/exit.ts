import { ApplicationFailure } from '@temporalio/common';
import { exitOrderSide } from '../core/types.js';
import { ExchangeError } from '../exchange/errors.js';
import type { OrderState } from '../exchange/types.js';
import type { ExitResult, TradingActivities } from './contracts.js';
import { attempt, keepAlive, type ActivityDeps } from './deps.js';
import { awaitFinal, placeMarketOrderOnce, toActivityError } from './idempotent-orders.js';
import type { Settlement } from './settlement.js';

/** Watching an open position on the exchange, and closing it with a reduce-only MARKET order. */
export function exitActivities(deps: ActivityDeps, settlement: Settlement): Pick<TradingActivities, 'readPosition' | 'closePosition'> {
  const { exchange: ex, log, metrics } = deps;
  return {
    async readPosition({ symbol }) {
      try {
        const [pos] = await ex.positions(symbol);
        const markPrice = pos && pos.markPrice > 0 ? pos.markPrice : await ex.markPrice(symbol);
        return { markPrice, openQuantity: Math.abs(pos?.positionAmt ?? 0) };
      } catch (err) {
        throw toActivityError(err);
      }
    },

    closePosition(req): Promise<ExitResult> {
      return keepAlive(async () => {
        try {
          // Our own exit orders first: a lost response on an earlier attempt must not look like "flat".
          let order: OrderState | null = null;
          for (const id of [...req.earlierClientOrderIds, req.clientOrderId]) order ??= await ex.getOrder(req.symbol, id);
          if (!order) {
            const [pos] = await ex.positions(req.symbol);
            const open = Math.abs(pos?.positionAmt ?? 0);
            if (open === 0) return { status: 'ALREADY_FLAT' };
            order = await placeMarketOrderOnce(ex, { symbol: req.symbol, side: exitOrderSide(req.side), quantity: open, reduceOnly: true, clientOrderId: req.clientOrderId }, attempt());
          }
          order = await awaitFinal(ex, order);
          await settlement.journalOrder(order, req.positionId, 'EXIT');
          if (order.status !== 'FILLED') throw ApplicationFailure.create({ message: `exit order ${order.clientOrderId} is ${order.status}` });
          await ex.cancelAlgoOrder(req.symbol, req.stopClientAlgoId).catch((err) => {
            if (!(err instanceof ExchangeError && (err.code === -2013 || err.code === -2011))) throw err;
          });
          metrics.orders.inc({ purpose: 'EXIT' });
          log.info({ positionId: req.positionId }, `Order executed ${req.symbol} ${order.side} ${order.executedQty} @ ${order.avgPrice} (${req.reason} exit)`);
          return await settlement.settleExit(req.positionId, req.side, req.entryFee, order, req.reason);
        } catch (err) {
          if (err instanceof ExchangeError && err.code === -2022) return { status: 'ALREADY_FLAT' };
          throw err instanceof ApplicationFailure ? err : toActivityError(err);
        }
      });
    },
  };
}
