import { ApplicationFailure } from '@temporalio/common';
import { ExchangeError } from '../exchange/errors.js';
import type { FuturesExchange } from '../exchange/types.js';
import type { FlattenResult, TradingActivities } from './contracts.js';
import { attempt, keepAlive, type ActivityDeps } from './deps.js';
import { awaitFinal, placeMarketOrderOnce, toActivityError } from './idempotent-orders.js';
import type { Settlement } from './settlement.js';

/** Cancel every waiting conditional order of a flat symbol: a closePosition stop would close the next position. */
export async function cancelStopsOfFlatSymbol(ex: FuturesExchange, symbol: string): Promise<string[]> {
  const cancelled: string[] = [];
  for (const algo of await ex.openAlgoOrders(symbol)) {
    await ex.cancelAlgoOrder(symbol, algo.clientAlgoId).catch((err) => {
      // Already triggered, cancelled or expired since the listing: nothing left to cancel.
      if (!(err instanceof ExchangeError && (err.code === -2011 || err.code === -2013))) throw err;
    });
    cancelled.push(algo.clientAlgoId);
  }
  return cancelled;
}

/**
 * Flatten a symbol without a position workflow (kill --flatten when the workflow is gone, or an
 * orphan under QT_ORPHAN_POLICY=flatten): one reduce-only MARKET order under a deterministic client
 * id, looked up before it is sent, so a retry never sends a second. The journal's OPEN row, if any,
 * is settled from the order's own fills.
 */
export function flattenActivities(deps: ActivityDeps, settlement: Settlement): Pick<TradingActivities, 'flattenSymbol'> {
  const { exchange: ex, journal, log } = deps;
  return {
    flattenSymbol(req): Promise<FlattenResult> {
      return keepAlive(async () => {
        try {
          let order = await ex.getOrder(req.symbol, req.clientOrderId);
          if (!order) {
            const amt = (await ex.positions(req.symbol)).find((p) => p.symbol === req.symbol)?.positionAmt ?? 0;
            if (amt === 0) {
              await cancelStopsOfFlatSymbol(ex, req.symbol);
              return { flattened: false, netPnl: 0, venueTime: null, detail: `${req.symbol} already flat` };
            }
            order = await placeMarketOrderOnce(ex, { symbol: req.symbol, side: amt > 0 ? 'SELL' : 'BUY', quantity: Math.abs(amt), reduceOnly: true, clientOrderId: req.clientOrderId }, attempt());
          }
          order = await awaitFinal(ex, order);
          if (order.status !== 'FILLED') throw ApplicationFailure.create({ message: `flatten order ${order.clientOrderId} is ${order.status}` });
          await cancelStopsOfFlatSymbol(ex, req.symbol);
          log.warn({ symbol: req.symbol, clientOrderId: order.clientOrderId, reason: req.reason }, `Order executed ${req.symbol} ${order.side} ${order.executedQty} @ ${order.avgPrice} (${req.reason}: flattened without a position workflow)`);
          const row = req.positionId ? await journal.getPosition(req.positionId) : ((await journal.positions({ status: 'open', symbol: req.symbol, limit: 1 }))[0] ?? null);
          if (row?.status === 'OPEN') {
            const closed = await settlement.settleExit(row.positionId, row.side, row.entryFee, order, req.reason);
            return { flattened: true, netPnl: closed.netPnl, venueTime: order.updateTime || null, detail: `closed ${row.positionId} net ${closed.netPnl.toFixed(4)}` };
          }
          // Exposure the journal never knew (an orphan): its fills are booked under a name that says so.
          const bookedAs = req.positionId ?? `unowned-${req.symbol}`;
          await settlement.journalOrder(order, bookedAs, 'EXIT');
          const fills = await settlement.bookFills(order, bookedAs);
          const netPnl = fills.realizedPnl - fills.fee;
          return { flattened: true, netPnl, venueTime: order.updateTime || null, detail: `no open journal row; fills booked (net ${netPnl.toFixed(4)})` };
        } catch (err) {
          throw err instanceof ApplicationFailure ? err : toActivityError(err);
        }
      });
    },
  };
}
