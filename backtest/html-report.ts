import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { BacktestRun } from './run.js';
import type { TradeStats } from './metrics.js';
import { chartOption, chartSeries } from './chart.js';

/**
 * `qt backtest --report FILE.html`: one self-contained page (Apache ECharts and the data inlined, no
 * network) with the equity and drawdown chart of every strategy, the totals, the model's per-symbol
 * table and trades, and the parameters of the run.
 */

/** Trades listed in the page (the most recent); the full list is in `--json`. */
const MAX_TRADES_LISTED = 2_000;

const require = createRequire(import.meta.url);
const echartsSource = () => readFileSync(require.resolve('echarts/dist/echarts.min'), 'utf8');

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** JSON that cannot close the surrounding <script> element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
const num = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : x > 0 ? '∞' : '–');
const time = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

function table(headers: string[], rows: (string | number)[][], id?: string): string {
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(String(c))}</td>`).join('')}</tr>`).join('\n');
  return `<table${id ? ` id="${id}"` : ''}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const statsRow = (name: string, t: TradeStats) => [name, t.trades, pct(t.winRate), num(t.netPnl), num(t.profitFactor), num(t.expectancy, 3), pct(t.meanReturn), pct(t.exposure)];

export function renderHtmlReport(run: BacktestRun): string {
  const r = run.report;
  const series = run.curves.map((c) => chartSeries(c, r.capital));
  const option = chartOption(series, { interactive: true });
  const chosen = r.strategies[0];
  const trades = run.curves.find((c) => c.name === chosen?.name)?.trades ?? [];
  const listed = trades.slice(-MAX_TRADES_LISTED).reverse();
  const model = r.model
    ? `${escapeHtml(r.model.name)} (${escapeHtml(r.model.dir)})${r.model.promotable ? '' : ' — <strong>card says not promotable</strong>: it did not beat the baselines out of sample'}`
    : 'none (baselines only)';
  const parameters: [string, string | number][] = [
    ['data', r.dataDir],
    ['symbols', r.symbols.join(', ')],
    ['from .. to', `${r.from} .. ${r.to}`],
    ['capital', r.capital],
    ['random baseline seed', run.settings.seed],
    ...Object.entries(run.settings.params).map(([k, v]) => [k, v] as [string, number]),
    ...Object.entries(run.settings.limits).map(([k, v]) => [`risk: ${k}`, v] as [string, number]),
  ];

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Backtest ${escapeHtml(r.from.slice(0, 10))} .. ${escapeHtml(r.to.slice(0, 10))}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
#chart { width: 100%; height: 640px; }
.note { color: #666; }
</style></head><body>
<h1>Backtest: ${r.symbols.length} symbols, ${escapeHtml(r.from)} .. ${escapeHtml(r.to)}</h1>
<p>Model: ${model}. Capital ${r.capital}; ${r.simulatedSteps} steps of ${r.intervalMs / 60_000} min, every strategy through the same decision, sizing, risk and exit code as the workflows, with the local exchange's fees and slippage.</p>
<div id="chart"></div>
<h2>Strategies</h2>
${table(['strategy', 'trades', 'win', 'net P&L', 'fees', 'PF', 'Sharpe', 'Sortino', 'max DD', 'exposure'],
  r.strategies.map((s) => [s.name, s.total.trades, pct(s.total.winRate), num(s.total.netPnl), num(s.total.fees), num(s.total.profitFactor), num(s.total.sharpe), num(s.total.sortino), pct(s.total.maxDrawdownPct), pct(s.total.exposure)]), 'strategies')}
${r.strategies.filter((s) => s.note).map((s) => `<p class="note">${escapeHtml(s.name)}: ${escapeHtml(s.note!)}</p>`).join('\n')}
<h2>Per symbol (${escapeHtml(chosen?.name ?? '–')})</h2>
${table(['symbol', 'trades', 'win', 'net P&L', 'PF', 'expectancy', 'return/trade', 'exposure'], chosen ? Object.entries(chosen.perSymbol).map(([sym, t]) => statsRow(sym, t)) : [], 'per-symbol')}
<h2>Trades (${escapeHtml(chosen?.name ?? '–')})</h2>
<p class="note">${listed.length === trades.length ? `All ${trades.length} trades` : `The last ${listed.length} of ${trades.length} trades (all of them with --json)`}, newest first; P&amp;L after both fee legs.</p>
${table(['exit', 'symbol', 'side', 'entry time', 'entry', 'exit price', 'quantity', 'fees', 'net P&L', 'reason'],
  listed.map((t) => [time(t.exitTime), t.symbol, t.side, time(t.entryTime), t.entryPrice.toPrecision(6), t.exitPrice.toPrecision(6), t.quantity.toPrecision(6), num(t.fees, 4), num(t.pnl, 4), t.reason]), 'trades')}
<h2>Parameters</h2>
${table(['parameter', 'value'], parameters, 'parameters')}
<script>${echartsSource()}</script>
<script>
const chart = echarts.init(document.getElementById('chart'));
chart.on('finished', () => { document.body.dataset.chart = 'rendered'; });
chart.setOption(${scriptJson(option)});
addEventListener('resize', () => chart.resize());
</script>
</body></html>
`;
}

export function writeHtmlReport(file: string, run: BacktestRun): void {
  writeFileSync(file, renderHtmlReport(run));
}
