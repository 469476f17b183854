import type { JournalWrite } from '../core/position-lifecycle.js';
import type { TradingActivities } from './contracts.js';
import type { ActivityDeps } from './deps.js';

/**
 * The position lifecycle's side outputs. Journal writes arrive after the exchange work they describe
 * (the workflow holds them while Postgres is away) and are all idempotent on their keys, so a batch
 * applied twice changes nothing. Notices are logs and counters: they never wait for Postgres.
 */
export function positionJournalActivities({ journal, log, metrics }: ActivityDeps): Pick<TradingActivities, 'applyJournalWrites' | 'notifyPosition'> {
  async function write(w: JournalWrite): Promise<void> {
    switch (w.kind) {
      case 'order':
        return journal.upsertOrder({ ...w.order, updatedAt: new Date(w.order.updatedAt) });
      case 'fills':
        await journal.recordFills(w.fills);
        return;
      case 'entry': {
        const row = { ...w.entry, openedAt: new Date(w.entry.openedAt) };
        if (w.ifAbsent) await journal.openPosition(row);
        else await journal.recordEntry(row);
        return;
      }
      case 'close':
        await journal.closePosition({ ...w.close, closedAt: new Date(w.close.closedAt) });
        return;
      case 'riskEvent':
        await journal.recordRiskEventOnce(w.key, { kind: w.event, symbol: w.symbol, detail: w.detail });
        return;
    }
  }

  return {
    async applyJournalWrites({ writes }) {
      // In order: a position's row exists before its close, an order before its fills are read back.
      for (const w of writes) await write(w);
    },

    async notifyPosition({ positionId, notices }) {
      for (const n of notices) {
        log[n.level]({ positionId }, n.message);
        if (n.counter?.name === 'orders') metrics.orders.inc({ purpose: n.counter.label });
        else if (n.counter?.name === 'positionsClosed') metrics.positionsClosed.inc({ reason: n.counter.label });
        else if (n.counter?.name === 'alerts') metrics.positionAlerts.inc({ kind: n.counter.label });
      }
    },
  };
}
