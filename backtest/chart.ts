import { writeFileSync } from 'node:fs';
import * as echarts from 'echarts';
import type { StrategyCurve } from './run.js';

/**
 * The backtest chart as an Apache ECharts option: equity (capital + marked-to-market P&L) on top,
 * drawdown from the running peak below, one line per strategy, on a shared time axis. The same
 * option is drawn by the browser in the HTML report and rendered to SVG on the server for --plot.
 */

/** Points per line: enough for a sharp line at any screen width, small enough to keep files light. */
const MAX_POINTS = 3_000;

export interface ChartSeries {
  name: string;
  /** [time ms, equity] */
  equity: [number, number][];
  /** [time ms, drawdown % of capital + peak, <= 0] */
  drawdown: [number, number][];
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/**
 * Equity sampled at a stride (its last point kept), and drawdown as each stride's deepest point, so
 * the worst drawdown survives the thinning.
 */
export function chartSeries(curve: StrategyCurve, capital: number, maxPoints = MAX_POINTS): ChartSeries {
  const n = curve.times.length;
  const stride = Math.max(1, Math.ceil(n / maxPoints));
  const equity: [number, number][] = [];
  const drawdown: [number, number][] = [];
  let peak = 0;
  let deepest = 0;
  let deepestAt = 0;
  for (let i = 0; i < n; i++) {
    const e = curve.equity[i]!;
    peak = Math.max(peak, e);
    const dd = -(peak - e) / (capital + peak);
    const strideStart = i % stride === 0;
    if (strideStart || dd < deepest) {
      deepest = dd;
      deepestAt = i;
    }
    if ((i + 1) % stride === 0 || i === n - 1) {
      equity.push([curve.times[i]!, round(capital + e, 2)]);
      drawdown.push([curve.times[deepestAt]!, round(deepest * 100, 3)]);
    }
  }
  return { name: curve.name, equity, drawdown };
}

export function chartOption(series: ChartSeries[], opts: { interactive: boolean; title?: string }): echarts.EChartsCoreOption {
  const grids = [
    { left: 70, right: 30, top: opts.title ? 70 : 50, height: '52%' },
    { left: 70, right: 30, top: '73%', bottom: opts.interactive ? 70 : 40 },
  ];
  return {
    animation: false,
    backgroundColor: '#fff',
    title: opts.title ? { text: opts.title, left: 'center', textStyle: { fontSize: 14 } } : undefined,
    legend: { top: opts.title ? 30 : 10, data: series.map((s) => s.name) },
    tooltip: opts.interactive ? { trigger: 'axis' } : undefined,
    axisPointer: opts.interactive ? { link: [{ xAxisIndex: 'all' }] } : undefined,
    grid: grids,
    xAxis: [
      { type: 'time', gridIndex: 0, axisLabel: { show: false } },
      { type: 'time', gridIndex: 1 },
    ],
    yAxis: [
      { type: 'value', gridIndex: 0, name: 'equity', scale: true },
      { type: 'value', gridIndex: 1, name: 'drawdown %', max: 0 },
    ],
    dataZoom: opts.interactive ? [{ type: 'inside', xAxisIndex: [0, 1] }, { type: 'slider', xAxisIndex: [0, 1], bottom: 15 }] : undefined,
    series: series.flatMap((s) => [
      { name: s.name, type: 'line', xAxisIndex: 0, yAxisIndex: 0, data: s.equity, showSymbol: false, lineStyle: { width: 1.5 } },
      { name: s.name, type: 'line', xAxisIndex: 1, yAxisIndex: 1, data: s.drawdown, showSymbol: false, lineStyle: { width: 1 }, areaStyle: { opacity: 0.15 } },
    ]),
  };
}

/** `qt backtest --plot FILE.svg`: the chart rendered to SVG by ECharts' server-side renderer. */
export function writeChartSvg(file: string, curves: StrategyCurve[], capital: number, title?: string): void {
  if (!file.toLowerCase().endsWith('.svg')) throw new Error(`--plot ${file}: only .svg is written (use --report FILE.html for the interactive report)`);
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: 1200, height: 700 });
  try {
    chart.setOption(chartOption(curves.map((c) => chartSeries(c, capital)), { interactive: false, title }));
    writeFileSync(file, chart.renderToSVGString());
  } finally {
    chart.dispose();
  }
}
