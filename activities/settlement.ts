import type { PositionSide, ExitReason } from '../core/types.js';
import type { OrderState } from '../exchange/types.js';
import type { ActivityDeps } from './deps.js';
import { summarizeFills, type FillSummary } from './fills.js';

export type OrderPurpose = 'ENTRY' | 'EXIT';

/** Journal writes shared by the entry, exit and protective-stop activities. */
export interface Settlement {
  journalOrder(o: OrderState, positionId: string, purpose: OrderPurpose, type?: string): Promise<void>;
  /** Fills of a filled order, journaled; returns their summary. */
  bookFills(o: OrderState, positionId: string): Promise<FillSummary>;
  /** Book an exit order's fills and close the journal's position with the P&L from the exchange's fills. */
  settleExit(
    positionId: string,
    side: PositionSide,
    entryFee: number,
    order: OrderState,
    reason: ExitReason,
  ): Promise<{ status: 'CLOSED'; exitPrice: number; exitFee: number; grossPnl: number; netPnl: number; reason: ExitReason }>;
}

export function createSettlement({ exchange: ex, journal, log, metrics }: ActivityDeps): Settlement {
  async function journalOrder(o: OrderState, positionId: string, purpose: OrderPurpose, type = 'MARKET'): Promise<void> {
    await journal.upsertOrder({
      clientOrderId: o.clientOrderId,
      symbol: o.symbol,
      positionId,
      purpose,
      side: o.side,
      type,
      quantity: o.origQty,
      status: o.status,
      exchangeOrderId: o.orderId,
      avgPrice: o.avgPrice,
      executedQty: o.executedQty,
      reduceOnly: o.reduceOnly,
      updatedAt: new Date(o.updateTime || Date.now()),
    });
  }

  async function bookFills(o: OrderState, positionId: string): Promise<FillSummary> {
    const fills = await ex.tradesForOrder(o.symbol, o.orderId);
    if (fills.length === 0 && o.executedQty > 0) throw new Error(`order ${o.clientOrderId} filled but its trades are not visible yet`);
    await journal.recordFills(fills.map((f) => ({ ...f, clientOrderId: o.clientOrderId, positionId })));
    return summarizeFills(fills);
  }

  async function settleExit(positionId: string, side: PositionSide, entryFee: number, order: OrderState, reason: ExitReason) {
    const s = await bookFills(order, positionId);
    const netPnl = s.realizedPnl - s.fee - entryFee;
    await journal.closePosition({ positionId, exitPrice: s.avgPrice, exitReason: reason, exitFee: s.fee, grossPnl: s.realizedPnl, netPnl, closedAt: new Date(order.updateTime || Date.now()) });
    metrics.positionsClosed.inc({ reason });
    log.info({ positionId, reason, exitPrice: s.avgPrice, netPnl }, `Position closed ${order.symbol} ${side} ${reason} @ ${s.avgPrice} net=${netPnl.toFixed(4)}`);
    return { status: 'CLOSED' as const, exitPrice: s.avgPrice, exitFee: s.fee, grossPnl: s.realizedPnl, netPnl, reason };
  }

  return { journalOrder, bookFills, settleExit };
}
