import { Gauge, type Registry } from 'prom-client';
import type { MarketDataService } from '../market/market-data-service.js';

/**
 * The market streams in /health: up while every symbol has fresh marks; a stale symbol (it holds) turns the
 * check into a warning naming it, without failing the whole worker.
 */
export function marketDataHealth(md: MarketDataService): Record<string, unknown> {
  const s = md.status();
  const connected = s.connections.filter((c) => c.connected).length;
  const detail = {
    symbols: s.symbols,
    connections: `${connected}/${s.connections.length} connected`,
    reconnects: s.connections.reduce((n, c) => n + c.reconnects, 0),
    gapFills: s.gapFills,
    malformed: s.malformed,
  };
  if (s.stale.length === 0) return detail;
  const shown = s.stale.slice(0, 10).join(', ') + (s.stale.length > 10 ? ` and ${s.stale.length - 10} more` : '');
  return { ...detail, stale: s.stale, warning: `stale market stream (no mark price), holding: ${shown}` };
}

export function registerMarketDataMetrics(registry: Registry, md: MarketDataService): void {
  new Gauge({
    name: 'qt_market_stale_symbols',
    help: 'Symbols whose mark price stream is stale (their signals hold)',
    registers: [registry],
    collect() {
      this.set(md.status().stale.length);
    },
  });
  new Gauge({
    name: 'qt_market_stream_reconnects',
    help: 'Market stream reconnections since the worker started',
    registers: [registry],
    collect() {
      this.set(md.status().connections.reduce((n, c) => n + c.reconnects, 0));
    },
  });
  new Gauge({
    name: 'qt_market_gap_fills',
    help: 'Times missing candles were fetched over REST after a stream gap',
    registers: [registry],
    collect() {
      this.set(md.status().gapFills);
    },
  });
}
