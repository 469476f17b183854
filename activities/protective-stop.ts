import { ApplicationFailure } from '@temporalio/common';
import { grossPnl } from '../core/costs.js';
import { exitOrderSide } from '../core/types.js';
import { ExchangeError } from '../exchange/errors.js';
import type { OrderState } from '../exchange/types.js';
import type { StopSettlement, TradingActivities } from './contracts.js';
import { keepAlive, type ActivityDeps } from './deps.js';
import { summarizeFills } from './fills.js';
import { toActivityError } from './idempotent-orders.js';
import type { Settlement } from './settlement.js';

/** The exchange-side protective stop: placing it, and booking the exit when it fired. */
export function protectiveStopActivities(deps: ActivityDeps, settlement: Settlement): Pick<TradingActivities, 'placeProtectiveStop' | 'settleProtectiveStop'> {
  const { exchange: ex, journal, log } = deps;

  /**
   * Flat on the exchange, yet neither our exit nor our stop filled: closed by hand on the venue, or
   * liquidated. The fills are not ours to find, so the exit is booked at the mark price and the
   * P&L is an estimate (logged as such); the stop is cancelled so it cannot fire on a new position.
   */
  async function settleExternalClose(req: StopSettlement) {
    await ex.cancelAlgoOrder(req.symbol, req.stopClientAlgoId).catch(() => {});
    const position = await journal.getPosition(req.positionId);
    const mark = await ex.markPrice(req.symbol);
    const gross = position ? grossPnl(req.side, position.entryPrice, mark, position.quantity) : 0;
    const netPnl = gross - req.entryFee;
    await journal.closePosition({ positionId: req.positionId, exitPrice: mark, exitReason: 'CLOSED_EXTERNALLY', exitFee: 0, grossPnl: gross, netPnl, closedAt: new Date() });
    log.warn({ positionId: req.positionId }, `Position ${req.positionId} was closed outside the agent; P&L estimated at mark ${mark}`);
    return { status: 'CLOSED' as const, exitPrice: mark, exitFee: 0, grossPnl: gross, netPnl, reason: 'CLOSED_EXTERNALLY' as const };
  }

  return {
    placeProtectiveStop(req) {
      return keepAlive(async () => {
        try {
          if (await ex.getAlgoOrder(req.symbol, req.clientAlgoId)) return;
          await ex.placeStopOrder({ symbol: req.symbol, side: exitOrderSide(req.side), type: 'STOP_MARKET', triggerPrice: req.triggerPrice, clientAlgoId: req.clientAlgoId });
          await journal.upsertOrder({
            clientOrderId: req.clientAlgoId,
            symbol: req.symbol,
            positionId: req.positionId,
            purpose: 'PROTECTIVE_STOP',
            side: exitOrderSide(req.side),
            type: 'STOP_MARKET',
            quantity: 0,
            status: 'NEW',
            exchangeOrderId: null,
            avgPrice: req.triggerPrice,
            executedQty: 0,
            reduceOnly: true,
            updatedAt: new Date(),
          });
        } catch (err) {
          // A stop that would trigger at once (-2021) means the price is already through it: the
          // workflow's next check sees the stop-loss level and exits with a MARKET order.
          if (err instanceof ExchangeError && err.code === -2021) return;
          throw toActivityError(err);
        }
      });
    },

    settleProtectiveStop(req) {
      return keepAlive(async () => {
        try {
          const algo = await ex.getAlgoOrder(req.symbol, req.stopClientAlgoId);
          if (!algo?.actualOrderId) {
            if (algo && (algo.status === 'TRIGGERING' || algo.status === 'TRIGGERED')) {
              throw ApplicationFailure.create({ message: `protective stop of ${req.positionId} is ${algo.status}; its fill is not visible yet`, type: 'StopNotSettled' });
            }
            return await settleExternalClose(req);
          }
          const s = summarizeFills(await ex.tradesForOrder(req.symbol, algo.actualOrderId));
          // The stop's MARKET order carries an exchange-made client id; journal it under the stop's id.
          const order: OrderState = {
            symbol: req.symbol,
            orderId: algo.actualOrderId,
            clientOrderId: req.stopClientAlgoId,
            side: algo.side,
            status: 'FILLED',
            origQty: s.quantity,
            executedQty: s.quantity,
            avgPrice: s.avgPrice,
            reduceOnly: true,
            updateTime: algo.updateTime,
          };
          await settlement.journalOrder(order, req.positionId, 'EXIT', 'STOP_MARKET');
          // The exchange-side stop sits at the stop-loss level: to the user this is the stop loss.
          return await settlement.settleExit(req.positionId, req.side, req.entryFee, order, 'STOP_LOSS');
        } catch (err) {
          throw err instanceof ApplicationFailure ? err : toActivityError(err);
        }
      });
    },
  };
}
