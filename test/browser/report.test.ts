import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeHtmlReport } from '../../backtest/html-report.js';
import { runBacktest, type BacktestRun } from '../../backtest/run.js';
import { describeInBrowser, openBrowser, type Browser } from './chromium.js';

/** `qt backtest --report`: the page opens offline in Chromium and ECharts draws every strategy. */
describeInBrowser('backtest HTML report in a browser', () => {
  let run: BacktestRun;
  let file: string;
  let browser: Browser;

  beforeAll(async () => {
    run = await runBacktest({ dataDir: 'test/fixtures/ml-slice', modelDir: 'models/xgb-v1', progress: false, from: Date.UTC(2025, 8, 3) });
    file = path.join(mkdtempSync(path.join(os.tmpdir(), 'qt-report-')), 'report.html');
    writeHtmlReport(file, run);
    browser = await openBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('is one self-contained file: no request leaves the page', () => {
    const html = readFileSync(file, 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/[^"'\s]*\.(js|css)/i);
  });

  it('draws equity and drawdown for the model and every baseline, and lists trades and parameters', async () => {
    const { page } = browser;
    const requests: string[] = [];
    page.on('request', (r) => !r.url().startsWith('file:') && requests.push(r.url()));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`file://${file}`);
    await page.waitForSelector('body[data-chart="rendered"]', { timeout: 20_000 });

    const chart = await page.evaluate(() => {
      const w = window as unknown as { echarts: { getInstanceByDom(el: Element): { getOption(): { series: { name: string; data: unknown[] }[] } } } };
      const option = w.echarts.getInstanceByDom(document.getElementById('chart')!).getOption();
      const canvas = document.querySelector('#chart canvas') as HTMLCanvasElement;
      // Non-blank: some pixel of the drawing differs from the white background.
      const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let inked = 0;
      for (let i = 0; i < pixels.length; i += 4) if (pixels[i]! < 200 || pixels[i + 1]! < 200 || pixels[i + 2]! < 200) inked++;
      return { series: option.series.map((s) => ({ name: s.name, points: s.data.length })), width: canvas.width, inked };
    });
    const names = run.report.strategies.map((s) => s.name);
    // One equity and one drawdown line per strategy.
    expect(chart.series.map((s) => s.name)).toEqual(names.flatMap((n) => [n, n]));
    for (const s of chart.series) expect(s.points, s.name).toBeGreaterThan(100);
    expect(chart.width).toBeGreaterThan(500);
    expect(chart.inked).toBeGreaterThan(5_000);

    const modelTrades = run.report.strategies[0]!.total.trades;
    expect(modelTrades).toBeGreaterThan(0);
    expect(await page.locator('#trades tbody tr').count()).toBe(Math.min(modelTrades, 2_000));
    expect(await page.locator('#per-symbol tbody tr').count()).toBe(run.report.symbols.length);
    expect(await page.locator('#strategies tbody tr').count()).toBe(names.length);
    expect(await page.locator('#parameters').innerText()).toContain('confidenceThreshold');
    await browser.screenshot('backtest-report');
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
  });
});
