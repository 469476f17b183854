import type { BacktestReport, BacktestSettings } from './run.js';
import type { TradeStats } from './metrics.js';
import { PARAM_ENV, type TradingParams } from '../core/params.js';

const pct = (x: number, digits = 2) => `${(x * 100).toFixed(digits)}%`;
const num = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : x > 0 ? 'inf' : '-');

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

/** The human-readable summary: totals for every strategy side by side, then the model's per-symbol lines. */
export function formatReport(r: BacktestReport, perSymbolFor?: string): string {
  const out: string[] = [];
  out.push(`Backtest ${r.dataDir}: ${r.symbols.length} symbols, ${r.from} .. ${r.to}, ${r.simulatedSteps} steps of ${r.intervalMs / 60_000} min, capital ${r.capital}`);
  if (r.model) out.push(`Model ${r.model.name} (${r.model.dir})${r.model.promotable ? '' : ' -- card says NOT promotable: it did not beat the baselines out of sample'}`);
  const w = [Math.max(18, ...r.strategies.map((s) => s.name.length)), 11, 7, 7, 11, 9, 7, 9, 9, 7, 7, 9, 9];
  out.push('');
  out.push(row(['strategy', 'path', 'trades', 'win', 'net P&L', 'fees', 'PF', 'expect.', 'ret/trd', 'Sharpe', 'Sortino', 'max DD', 'exposure'], w));
  for (const s of r.strategies) {
    const t = s.total;
    out.push(row([s.name, s.intrabar, String(t.trades), pct(t.winRate), num(t.netPnl), num(t.fees), num(t.profitFactor), num(t.expectancy, 3),
      pct(t.meanReturn, 3), num(t.sharpe), num(t.sortino), pct(t.maxDrawdownPct), pct(t.exposure)], w));
  }
  for (const s of r.strategies) if (s.note) out.push(`  ${s.name}: ${s.note}`);
  const chosen = r.strategies.find((s) => s.name === perSymbolFor) ?? r.strategies[0];
  if (chosen) {
    out.push('');
    out.push(`Per symbol (${chosen.name}):`);
    const ws = [14, 7, 7, 11, 7, 9, 9, 9];
    out.push(row(['symbol', 'trades', 'win', 'net P&L', 'PF', 'expect.', 'ret/trd', 'exposure'], ws));
    const entries = Object.entries(chosen.perSymbol) as [string, TradeStats][];
    for (const [sym, t] of entries) {
      out.push(row([sym, String(t.trades), pct(t.winRate), num(t.netPnl), num(t.profitFactor), num(t.expectancy, 3), pct(t.meanReturn), pct(t.exposure)], ws));
    }
    const rej = Object.entries(chosen.riskRejections);
    if (rej.length) out.push(`Risk rejections: ${rej.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  }
  out.push('');
  out.push(...formatSettings(r.settings));
  const sec = r.seconds;
  out.push('');
  out.push(`Time: load ${sec.load}s, features ${sec.features}s, inference ${sec.inference}s, simulation ${sec.simulation}s, total ${sec.total}s (${Math.round(r.candles / sec.total)} candles/s)`);
  return out.join('\n');
}

/** Every parameter a run used, as QT_ variables where they have one: the report states them all. */
export function formatSettings(st: BacktestSettings): string[] {
  const params = (Object.keys(st.params) as (keyof TradingParams)[]).map((k) => `${PARAM_ENV[k] ?? k}=${String(st.params[k])}`);
  const own = Object.entries(st.strategyParams).map(([k, v]) => `${k}=${String(v)}`);
  const limits = Object.entries(st.limits).map(([k, v]) => `${k}=${String(v)}`);
  return [
    `Parameters: ${params.join(' ')}`,
    `Strategy: ${st.strategy ?? 'none (model only)'}${own.length ? ` (${own.join(' ')})` : ''}; intrabar path: ${st.intrabar.join(', ')}; random seed ${st.seed}`,
    `Risk limits: ${limits.join(' ')}`,
  ];
}

/** JSON with Infinity spelled as a string (JSON has no Infinity). */
export function reportJson(r: BacktestReport): string {
  return JSON.stringify(r, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2);
}
