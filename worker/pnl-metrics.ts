import { Gauge, type Registry } from 'prom-client';
import type { FuturesExchange } from '../exchange/types.js';
import type { Journal } from '../journal/index.js';

/**
 * P&L and exposure gauges on /metrics, read when Prometheus scrapes: realized P&L from the journal
 * (positions closed today and in total, after fees), unrealized P&L and exposure from the exchange's
 * own positions, open positions from both. A source that does not answer leaves its gauges at the
 * last value rather than failing the whole scrape.
 */
export function registerPnlMetrics(registry: Registry, journal: Journal, exchange: FuturesExchange): void {
  // One read per scrape serves every gauge: prom-client calls each gauge's collect in turn.
  let pending: Promise<void> | null = null;
  const refresh = () =>
    (pending ??= (async () => {
      const [summary, positions] = await Promise.allSettled([journal.pnlSummary(), exchange.positions()]);
      if (summary.status === 'fulfilled') {
        realized.set({ window: 'total' }, summary.value.realizedNet);
        realized.set({ window: 'today' }, summary.value.todayNet);
        open.set({ source: 'journal' }, summary.value.openPositions);
      }
      if (positions.status === 'fulfilled') {
        const held = positions.value.filter((p) => p.positionAmt !== 0);
        unrealized.set(held.reduce((sum, p) => sum + p.unrealizedProfit, 0));
        exposure.set(held.reduce((sum, p) => sum + Math.abs(p.positionAmt * p.markPrice), 0));
        open.set({ source: 'exchange' }, held.length);
      }
    })().finally(() => setTimeout(() => (pending = null), 0)));
  const realized = new Gauge({ name: 'qt_realized_pnl', help: 'Net P&L (after fees) of closed positions, quote asset', labelNames: ['window'], registers: [registry], collect: refresh });
  const unrealized = new Gauge({ name: 'qt_unrealized_pnl', help: "Unrealized P&L of the exchange's open positions at the mark price, quote asset", registers: [registry], collect: refresh });
  const exposure = new Gauge({ name: 'qt_exposure_notional', help: "Sum of |position notional| at the mark price over the exchange's positions, quote asset", registers: [registry], collect: refresh });
  const open = new Gauge({ name: 'qt_open_positions', help: 'Open positions, as the journal and the exchange see them', labelNames: ['source'], registers: [registry], collect: refresh });
}
