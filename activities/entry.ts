import { exitLevels } from '../core/exits.js';
import { entryOrderSide } from '../core/types.js';
import { ExchangeError } from '../exchange/errors.js';
import type { EntryResult, TradingActivities } from './contracts.js';
import { attempt, keepAlive, type ActivityDeps } from './deps.js';
import { awaitFinal, placeMarketOrderOnce, toActivityError } from './idempotent-orders.js';
import type { Settlement } from './settlement.js';

/** The entry order of a position and its journal rows. */
export function entryActivities(deps: ActivityDeps, settlement: Settlement): Pick<TradingActivities, 'openPosition'> {
  const { exchange: ex, journal, log, metrics } = deps;
  return {
    openPosition(req): Promise<EntryResult> {
      return keepAlive(async () => {
        try {
          await ex.prepareSymbol(req.symbol, req.leverage);
          const price = await ex.markPrice(req.symbol);
          const quantity = req.notional / price;
          // The mark just read also serves the adapter's min-notional check: no second lookup.
          const placed = await placeMarketOrderOnce(ex, { symbol: req.symbol, side: entryOrderSide(req.side), quantity, referencePrice: price, clientOrderId: req.clientOrderId }, attempt());
          const order = await awaitFinal(ex, placed);
          await settlement.journalOrder(order, req.positionId, 'ENTRY');
          if (order.status !== 'FILLED') return { status: 'REJECTED', reason: `entry order ${order.status}` };
          const fill = await settlement.bookFills(order, req.positionId);
          const levels = exitLevels(req.side, fill.avgPrice, req);
          await journal.openPosition({
            positionId: req.positionId,
            workflowId: req.workflowId,
            symbol: req.symbol,
            side: req.side,
            quantity: fill.quantity,
            entryPrice: fill.avgPrice,
            entryFee: fill.fee,
            openedAt: new Date(order.updateTime || Date.now()),
            stopPrice: levels.stopLoss,
            takeProfitPrice: levels.takeProfit,
          });
          metrics.orders.inc({ purpose: 'ENTRY' });
          log.info({ positionId: req.positionId, clientOrderId: order.clientOrderId }, `Order executed ${req.symbol} ${order.side} ${fill.quantity} @ ${fill.avgPrice} (${req.side} entry, fee ${fill.fee.toFixed(4)})`);
          return { status: 'FILLED', quantity: fill.quantity, entryPrice: fill.avgPrice, entryFee: fill.fee, openedAt: order.updateTime, stopPrice: levels.stopLoss, takeProfitPrice: levels.takeProfit };
        } catch (err) {
          if (err instanceof ExchangeError && err.kind === 'rejected') {
            log.warn({ symbol: req.symbol, code: err.code }, `Entry rejected ${req.symbol}: ${err.message}`);
            return { status: 'REJECTED', reason: `${err.code ?? ''} ${err.message}`.trim() };
          }
          throw toActivityError(err);
        }
      });
    },
  };
}
