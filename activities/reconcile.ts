import { orderStemOf, stopIdOf } from '../core/position-ids.js';
import type { Observation } from '../core/reconcile.js';
import { ExchangeError } from '../exchange/errors.js';
import { riskBookQuery, riskBookWorkflowId } from '../workflows/book-contracts.js';
import { positionWorkflowId } from '../workflows/contracts.js';
import type { TradingActivities } from './contracts.js';
import type { ActivityDeps } from './deps.js';
import { mapLimit } from '../core/map-limit.js';
import { toActivityError } from './idempotent-orders.js';
import { protectiveStopActivities } from './protective-stop.js';
import type { Settlement } from './settlement.js';
import { bounded, isRunning, loopPosition, runningLoopSymbols, runningPositions } from './temporal-views.js';

type ReconcileActivities = Pick<TradingActivities, 'observeBook' | 'cancelStaleStop' | 'settleOrphanRow' | 'closedPositionPnl' | 'recordReconciliation'>;

/** Exit order ids a position may have sent (beyond those journaled): its first few exit attempts. */
const EXIT_IDS_TRIED = 5;

/** The reconciler's eyes and hands: one consistent-enough observation, and each corrective action. */
export function reconcileActivities(deps: ActivityDeps, settlement: Settlement): ReconcileActivities {
  const { exchange: ex, journal, log, temporal, status } = deps;
  const stops = protectiveStopActivities(deps, settlement);
  const exchangeCall = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toActivityError(err);
    }
  };

  return {
    async observeBook(): Promise<Observation> {
      const { client, taskQueue } = temporal;
      const [positions, algos, owners, loopSymbols] = await Promise.all([
        exchangeCall(() => ex.positions()),
        exchangeCall(() => ex.openAlgoOrders()),
        runningPositions(client, taskQueue),
        runningLoopSymbols(client, taskQueue),
      ]);
      const loops = await mapLimit(loopSymbols, 8, async (symbol) => ({ symbol, openPositionId: await loopPosition(client, symbol).catch(() => null) }));
      // Visibility may not list a workflow started a moment ago: confirm what the loops believe with describe.
      const ownerIds = new Set(owners.map((o) => o.positionId));
      for (const l of loops) {
        if (l.openPositionId && !ownerIds.has(l.openPositionId) && (await isRunning(client, positionWorkflowId(l.openPositionId)))) {
          owners.push({ positionId: l.openPositionId, symbol: l.symbol });
          ownerIds.add(l.openPositionId);
        }
      }
      const journalOpen = await journal.positions({ status: 'open', limit: 10_000 }).then(
        (rows) => rows.map((r) => ({ positionId: r.positionId, symbol: r.symbol, side: r.side })),
        () => null,
      );
      const book = await bounded(client, () => client.workflow.getHandle(riskBookWorkflowId(taskQueue)).query(riskBookQuery)).catch(() => null);
      return {
        at: Date.now(),
        exposures: positions.filter((p) => p.positionAmt !== 0).map((p) => ({ symbol: p.symbol, positionAmt: p.positionAmt, entryPrice: p.entryPrice, markPrice: p.markPrice })),
        stops: algos.filter((a) => a.status === 'NEW').map((a) => ({ symbol: a.symbol, clientAlgoId: a.clientAlgoId })),
        owners,
        loops,
        journalOpen,
        reservations: book ? book.reservations.map((r) => ({ positionId: r.positionId, symbol: r.symbol })) : null,
        killFlatten: !!book?.kill.on && book.kill.flatten,
      };
    },

    async cancelStaleStop({ symbol, clientAlgoId }) {
      try {
        await ex.cancelAlgoOrder(symbol, clientAlgoId);
        return `cancelled ${clientAlgoId}`;
      } catch (err) {
        if (err instanceof ExchangeError && (err.code === -2011 || err.code === -2013)) return `${clientAlgoId} no longer open`;
        throw toActivityError(err);
      }
    },

    async settleOrphanRow({ symbol, positionId, side, mode }) {
      const row = await journal.getPosition(positionId);
      if (!row || row.status !== 'OPEN') return { netPnl: row?.netPnl ?? 0, venueTime: row?.closedAt?.getTime() ?? null, detail: 'already settled' };
      if (mode === 'TRANSFERRED') {
        // The exposure lives on under its new owner, whose row starts at the exchange's entry price:
        // this row ends there with only its entry fee, so the two rows add up to the position's P&L.
        const venueTime = await exchangeCall(() => ex.venueTime(symbol));
        const netPnl = -row.entryFee;
        await journal.closePosition({ positionId, exitPrice: row.entryPrice, exitReason: 'ADOPTED', exitFee: 0, grossPnl: 0, netPnl, closedAt: new Date(venueTime) });
        return { netPnl, venueTime, detail: `handed to the adopting workflow; net ${netPnl.toFixed(4)} (entry fee)` };
      }
      // Flat: find the order that closed it among the exits it journaled or may have sent.
      const journaled = (await journal.ordersForPosition(positionId)).filter((o) => o.purpose === 'EXIT' && o.type === 'MARKET').map((o) => o.clientOrderId);
      const tried = Array.from({ length: EXIT_IDS_TRIED }, (_, i) => `${orderStemOf(positionId)}-X${i + 1}`);
      for (const id of new Set([...journaled, ...tried])) {
        const order = await exchangeCall(() => ex.getOrder(symbol, id));
        if (order?.status === 'FILLED' && order.executedQty > 0) {
          const closed = await exchangeCall(() => settlement.settleExit(positionId, side, row.entryFee, order, 'RECONCILED'));
          return { netPnl: closed.netPnl, venueTime: order.updateTime || null, detail: `settled from exit ${id} @ ${closed.exitPrice}` };
        }
      }
      // Else its protective stop fired (settled from the stop's fills), or it was closed outside the agent.
      const closed = await stops.settleProtectiveStop({ positionId, symbol, side, entryFee: row.entryFee, stopClientAlgoId: stopIdOf(positionId) });
      const after = await journal.getPosition(positionId);
      return { netPnl: closed.netPnl, venueTime: after?.closedAt?.getTime() ?? null, detail: `settled as ${closed.reason} @ ${closed.exitPrice}` };
    },

    async closedPositionPnl({ positionId }) {
      const row = await journal.getPosition(positionId);
      if (!row) return { netPnl: 0, venueTime: null };
      if (row.status === 'OPEN') throw new Error(`${positionId} is still OPEN in the journal; settled first`);
      return { netPnl: row.netPnl ?? 0, venueTime: row.closedAt?.getTime() ?? null };
    },

    async recordReconciliation({ result, unjournaled }) {
      status.lastReconciliation = result;
      if (result.error) log.warn({ pass: result.pass }, `Reconciliation pass ${result.pass} could not observe: ${result.error}`);
      for (const a of result.actions) {
        const line = `Reconciliation: ${a.description} -> ${a.outcome}${a.detail ? ` (${a.detail})` : ''}`;
        if (a.outcome === 'FAILED') log.error({ action: a.action }, line);
        else log.warn({ action: a.action }, line);
      }
      for (const s of result.suspects) log.info({ action: s.action }, `Reconciliation: suspect, confirming at the next look: ${s.description}`);
      let journaled = 0;
      for (const u of unjournaled) {
        try {
          await journal.recordRiskEvent({ kind: `RECONCILE_${u.action.kind}`, symbol: u.action.symbol, detail: { description: u.description, outcome: u.outcome, detail: u.detail, action: u.action } });
          journaled++;
        } catch (err) {
          log.warn({ pending: unjournaled.length - journaled }, `reconciliation events not journaled yet: ${err instanceof Error ? err.message : String(err)}`);
          break;
        }
      }
      return journaled;
    },
  };
}
