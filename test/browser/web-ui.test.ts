import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTemporalDevServer, type TemporalDevServer } from '../../infra/temporal.js';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.js';
import { positionWorkflowId, symbolWorkflowId } from '../../workflows/contracts.js';
import { eventually, openedPosition, startHarness, uniqueSymbol, type Harness } from '../trading/harness.js';
import { describeInBrowser, openBrowser, type Browser } from './chromium.js';

/**
 * What an operator sees in the Temporal Web UI, in a real browser: the dev server with its UI, the
 * real worker and workflows, the local exchange and Postgres (test/trading/harness.ts, with scripted
 * signals so one symbol opens a position), and `qt kill` / `qt resume` from the command line.
 */

const root = path.resolve(import.meta.dirname, '../..');

/**
 * The Web UI shows only its standard columns until a user adds others; the choice lives in the
 * browser's local storage, per namespace. This is what the README tells users to do once.
 */
export const QT_COLUMNS = ['Status', 'Workflow ID', ...SEARCH_ATTRIBUTES.map((k) => k.name), 'Type', 'Start'];
const columnsSetting = JSON.stringify({ default: QT_COLUMNS.map((label, i) => ({ label, pinned: i < 2 })) });

describeInBrowser('Temporal Web UI', () => {
  let server: TemporalDevServer;
  let h: Harness;
  let browser: Browser;
  const [quiet, weak, trader] = [uniqueSymbol(), uniqueSymbol(), uniqueSymbol()] as [string, string, string];
  const symbols = [quiet, weak, trader];
  let positionId = '';

  const url = (p: string) => `${server.uiUrl}/namespaces/default${p}`;
  const listUrl = (query?: string) => url(`/workflows${query ? `?query=${encodeURIComponent(query)}` : ''}`);

  /** The rows of the workflow table as text, one string per row. */
  async function tableRows(query?: string): Promise<string[]> {
    const { page } = browser;
    // The list is drawn from the UI server's workflows API call: wait for that answer, not for an idle
    // network (the page keeps polling).
    const listed = page.waitForResponse((r) => r.url().includes('/api/v1/namespaces/default/workflows') && r.request().method() === 'GET');
    await page.goto(listUrl(query));
    await listed;
    await page.locator('table').first().waitFor();
    await page.waitForTimeout(200); // the rows render right after the answer
    return page.locator('table tbody tr').allInnerTexts();
  }

  const headers = async () => (await browser.page.locator('table thead th').allInnerTexts()).map((t) => t.trim()).filter(Boolean);

  /**
   * A workflow's "Current Details" (setCurrentDetails) from its User Metadata tab, once they match
   * `expected`: the page is loaded afresh until they do (the UI reads them through a query, which a
   * busy worker may answer late; until then it shows "No Current Details").
   */
  async function currentDetails(workflowId: string, expected: RegExp): Promise<string> {
    const { page } = browser;
    let last = '';
    try {
      return await eventually(async () => {
        await page.goto(url(`/workflows/${workflowId}`));
        await page.getByRole('tab', { name: 'User Metadata' }).click();
        await page.getByText('Current Details').first().waitFor();
        // The UI renders the markdown in a sandboxed frame of its own.
        const frames = page.frames().filter((f) => f !== page.mainFrame());
        for (let i = 0; i < 20 && !expected.test(last); i++) {
          last = (await Promise.all(frames.map((f) => f.locator('body').innerText().catch(() => '')))).join('\n').trim();
          if (!expected.test(last)) await page.waitForTimeout(250);
        }
        return expected.test(last) ? last : null;
      }, `the current details of ${workflowId} to match ${expected}`, 60_000);
    } catch (err) {
      throw new Error(`${String(err)}; last seen: "${last}"`);
    }
  }

  const qt = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'client/main.ts', ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, TEMPORAL_ADDRESS: server.address } });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    server = await startTemporalDevServer({ port: 0, uiPort: 0 });
    h = await startHarness({ temporalAddress: server.address });
    for (const s of symbols) await h.setPrice(s, 100);
    h.signals.set(quiet, 'HOLD', 0.6);
    h.signals.set(weak, 'SELL', 0.4);
    h.signals.set(trader, 'BUY', 0.9);
    await h.startWorker();
    for (const s of symbols) await h.startSymbol(s, { cooldownSeconds: 600 });
    positionId = (await openedPosition(h, trader)).positionId;
    browser = await openBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await server?.stop();
  });

  it('lists every symbol workflow; the Qt columns appear once added to the table settings', { timeout: 120_000 }, async () => {
    const rows = await eventually(async () => {
      const r = await tableRows();
      return symbols.every((s) => r.some((row) => row.includes(symbolWorkflowId(s)))) ? r : null;
    }, 'every symbol workflow in the list');
    expect(rows.some((row) => row.includes(positionWorkflowId(positionId)))).toBe(true);
    // Out of the box: the standard columns only (no server setting or URL parameter adds others).
    expect(await headers()).not.toContain('QtState');
    await browser.screenshot('web-ui-1-default-columns');

    await browser.page.addInitScript((value) => {
      if (!localStorage.getItem('namespace-workflow-table-columns')) localStorage.setItem('namespace-workflow-table-columns', value);
    }, columnsSetting);
    const withColumns = await tableRows();
    expect(await headers()).toEqual(expect.arrayContaining(QT_COLUMNS));
    const traderRow = withColumns.find((row) => row.includes(symbolWorkflowId(trader)))!;
    // QtSymbol, QtState, QtSignal, QtSide, QtConfidence
    expect(traderRow).toMatch(new RegExp(`${trader}\\s+IN_POSITION\\s+BUY\\s+LONG\\s+0\\.9\\s`));
    await browser.screenshot('web-ui-2-qt-columns');
  });

  it('filters by QtState', { timeout: 120_000 }, async () => {
    const inPosition = await tableRows(`QtState = "IN_POSITION" AND ExecutionStatus = "Running"`);
    expect(inPosition).toHaveLength(1);
    expect(inPosition[0]).toContain(symbolWorkflowId(trader));
    const scanning = await tableRows(`QtState = "SCANNING" AND ExecutionStatus = "Running"`);
    expect(scanning.map((r) => symbols.find((s) => r.includes(symbolWorkflowId(s)))).sort()).toEqual([quiet, weak].sort());
    await browser.screenshot('web-ui-3-filter-scanning');
  });

  it("shows a symbol's state, last signal and decision; qt kill shows KILLED, qt resume brings it back", async () => {
    await currentDetails(symbolWorkflowId(quiet), new RegExp(`${quiet} SCANNING \\| last signal HOLD 60\\.0% \\| decision \\S+`));
    await browser.screenshot('web-ui-4-symbol-details');

    expect(qt('kill', '--symbol', quiet, '--reason', 'web ui test')).toContain('kill sent to 1 symbol workflow(s)');
    await currentDetails(symbolWorkflowId(quiet), /KILLED .*killed: web ui test/);
    await browser.screenshot('web-ui-5-killed');
    await eventually(async () => (await tableRows(`QtState = "KILLED" AND ExecutionStatus = "Running"`)).some((r) => r.includes(symbolWorkflowId(quiet))), 'the killed symbol under QtState = "KILLED"', 60_000);

    expect(qt('resume', '--symbol', quiet)).toContain('resume sent to 1 symbol workflow(s)');
    await currentDetails(symbolWorkflowId(quiet), /SCANNING \| last signal/);
    await eventually(async () => (await tableRows(`QtState = "KILLED" AND ExecutionStatus = "Running"`)).length === 0, 'no KILLED symbol left', 60_000);
  }, 360_000);

  it("shows an open position's side, entry, stop and target", async () => {
    const position = await openedPosition(h, trader);
    const details = await currentDetails(positionWorkflowId(positionId), new RegExp(`LONG ${trader} OPEN .*TP \\S+ SL \\S+`));
    expect(details).toContain(`@ ${position.state.entryPrice}`);
    const [, tp, sl] = /TP (\S+) SL (\S+)/.exec(details)!;
    expect(Number(tp)).toBeGreaterThan(position.state.entryPrice);
    expect(Number(sl)).toBeLessThan(position.state.entryPrice);
    await browser.screenshot('web-ui-6-position-details');
  }, 120_000);
});
