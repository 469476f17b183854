import { applyParamChanges, type TradingParams } from '../core/params.js';
import type { IntrabarMode } from '../core/intrabar.js';
import type { RiskLimits } from '../core/risk.js';
import type { PortfolioStats } from './metrics.js';
import { type PreparedBacktest, simulate } from './run.js';

/** One axis of a parameter grid: a parameter (and its QT_ variable) and the values it takes. */
export interface SweepAxis {
  key: keyof TradingParams;
  env: string;
  values: string[];
}

/**
 * A parameter grid over one prepared backtest: data, features and model scores are computed once and
 * every combination only re-simulates, with the baselines rebuilt on the same settings.
 */
export interface SweepRow {
  /** The swept parameters' values in this combination, by QT_ variable. */
  values: Record<string, string>;
  intrabar: IntrabarMode;
  params: TradingParams;
  tested: { name: string; stats: PortfolioStats };
  baselines: { name: string; stats: PortfolioStats }[];
}

/** Every combination of the axes' values (the first axis varies slowest). */
export function combinations(axes: SweepAxis[]): Record<string, string>[] {
  return axes.reduce<Record<string, string>[]>((acc, axis) => acc.flatMap((c) => axis.values.map((v) => ({ ...c, [axis.env]: v }))), [{}]);
}

export function runSweep(
  p: PreparedBacktest,
  axes: SweepAxis[],
  base: { params: TradingParams; limits: RiskLimits; intrabar: IntrabarMode[]; capital: number; seed: number },
  onRow?: (row: SweepRow, index: number, total: number) => void,
): SweepRow[] {
  const envKey = Object.fromEntries(axes.map((a) => [a.env, a.key]));
  const combos = combinations(axes);
  const rows: SweepRow[] = [];
  for (const values of combos) {
    const params = applyParamChanges(base.params, Object.fromEntries(Object.entries(values).map(([env, v]) => [envKey[env]!, v])));
    for (const intrabar of base.intrabar) {
      const { reports } = simulate(p, { params, limits: base.limits, intrabar, capital: base.capital, seed: base.seed });
      const [tested, ...baselines] = reports.map((r) => ({ name: r.name, stats: r.total }));
      const row = { values, intrabar, params, tested: tested!, baselines };
      rows.push(row);
      onRow?.(row, rows.length, combos.length * base.intrabar.length);
    }
  }
  return rows;
}

const pct = (x: number) => `${(x * 100).toFixed(3)}%`;
const num = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : x > 0 ? 'inf' : '-');

/**
 * One line per combination and path: the tested strategy's trades, net P&L, net return per trade,
 * profit factor and max drawdown, then each baseline's net P&L and return per trade on the same
 * settings, and whether the strategy beat every baseline.
 */
export function formatSweep(rows: SweepRow[], axes: SweepAxis[]): string {
  if (rows.length === 0) return '(no combinations)';
  const baselineNames = rows[0]!.baselines.map((b) => b.name);
  const header = [...axes.map((a) => a.env), 'path', 'trades', 'net P&L', 'ret/trd', 'PF', 'max DD',
    ...baselineNames.flatMap((n) => [`${n} net`, `${n} r/t`]), 'beats all'];
  const body = rows.map((r) => {
    const t = r.tested.stats;
    const beats = r.baselines.every((b) => t.netPnl > b.stats.netPnl);
    return [...axes.map((a) => r.values[a.env]!), r.intrabar, String(t.trades), num(t.netPnl), pct(t.meanReturn), num(t.profitFactor), pct(t.maxDrawdownPct),
      ...r.baselines.flatMap((b) => [num(b.stats.netPnl), b.stats.trades ? pct(b.stats.meanReturn) : '-']), beats ? 'yes' : 'no'];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < axes.length + 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [`Sweep of ${rows[0]!.tested.name}: ${rows.length} rows`, line(header), ...body.map(line)].join('\n');
}
