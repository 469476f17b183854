import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { reconcilerWorkflowId, riskBookQuery, riskBookWorkflowId } from '../../workflows/book-contracts.js';
import { symbolWorkflowId } from '../../workflows/contracts.js';
import { runQt } from '../helpers/qt-cli.js';
import { startRestartablePostgres, type RestartablePostgres } from '../helpers/restartable-postgres.js';
import { captureHistory } from './capture.js';
import { eventually, openedPosition, startHarness, uniqueSymbol, type Harness } from './harness.js';
import { sleep } from '../../infra/sleep.js';


/** Postgres taken away for 10 s (the test's own server; the shared one is never stopped). */
describe('Postgres down for 10 s', () => {
  let pg: RestartablePostgres;
  let h: Harness;
  const quiet = uniqueSymbol();
  const trading = uniqueSymbol();
  let positionId = '';

  beforeAll(async () => {
    pg = await startRestartablePostgres();
    h = await startHarness({ databaseUrl: pg.url });
    await h.startWorker();
  });
  afterAll(async () => {
    await pg?.start();
    await h?.close();
    await pg?.destroy();
  });

  /** Every workflow this deployment runs is still running: nothing failed, nothing was terminated. */
  async function expectAllRunning(ids: string[]): Promise<void> {
    for (const id of ids) expect({ id, status: (await h.client.workflow.getHandle(id).describe()).status.name }).toEqual({ id, status: 'RUNNING' });
  }

  /**
   * The journal holds exactly ticks 1..n of the loop, each once. The tick count goes on across continue-as-new
   * (a loop's run ends every 200 events or so, which a test this long reaches), so every run's rows count.
   */
  async function journaledTicks(symbol: string): Promise<{ seqs: number[]; complete: boolean; lastTick: number }> {
    const state = await h.symbolState(symbol);
    const rows = await h.journal.recentSignals({ sinceMs: 3_600_000, symbol, limit: 10_000 });
    const seqs = rows.map((r) => r.seq).sort((a, b) => a - b);
    const complete = (state.pendingDecisions?.length ?? 0) === 0 && seqs.length === state.tickSeq && seqs.every((s, i) => s === i + 1);
    return { seqs, complete, lastTick: state.tickSeq };
  }

  it('during ticks: no workflow fails, decisions wait in the loop and are journaled once when it is back', async () => {
    await h.setPrice(quiet, 10);
    await h.setPrice(trading, 20);
    h.signals.set(quiet, 'HOLD', 0.9);
    h.signals.set(trading, 'BUY', 0.8);
    await h.startSymbol(quiet);
    await h.startSymbol(trading, { cooldownSeconds: 600 });
    positionId = (await openedPosition(h, trading)).positionId;
    await eventually(async () => (await journaledTicks(quiet)).seqs.length >= 3, 'ticks journaled');

    const down = Date.now();
    await pg.stop();
    await sleep(10_000);
    const buffered = (await h.symbolState(quiet)).pendingDecisions?.length ?? 0;
    expect(buffered).toBeGreaterThanOrEqual(3);
    await pg.start();
    const up = Date.now();

    for (const symbol of [quiet, trading]) await eventually(async () => (await journaledTicks(symbol)).complete, `${symbol}'s journal to catch up`, 60_000);
    const duringOutage = (await h.journal.recentSignals({ sinceMs: 3_600_000, symbol: quiet, limit: 10_000 })).filter((r) => r.at.getTime() > down && r.at.getTime() < up);
    expect(duringOutage.length).toBeGreaterThanOrEqual(3); // written late, with the time they were decided
    expect(await h.journal.riskEvents(10, 'DECISIONS_DROPPED')).toEqual([]);
    await expectAllRunning([symbolWorkflowId(quiet), symbolWorkflowId(trading), `qt-position-${positionId}`, riskBookWorkflowId(h.taskQueue), reconcilerWorkflowId(h.taskQueue)]);
    await captureHistory(symbolWorkflowId(quiet), 'symbol-journal-outage');
  }, 120_000);

  it('during qt kill with a broken environment: the kill reaches every loop and position, the switch is persisted once Postgres is back', async () => {
    await pg.stop();
    const result = await runQt(['kill', '--flatten', '--reason', 'outage drill'], {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      QT_TASK_QUEUE: h.taskQueue,
      DATABASE_URL: pg.url,
      QT_CONFIDENCE_THRESHOLD: 'very high', // a broken value: every command reading the configuration refuses to run
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/kill \+ flatten sent to 2 symbol workflow\(s\) and 1 position workflow\(s\); risk book kill switch ON; journal not updated now/);

    for (const symbol of [quiet, trading]) await eventually(async () => (await h.symbolState(symbol)).killed, `${symbol} killed`);
    await eventually(async () => ((await h.exchange.positions(trading))[0]?.positionAmt ?? 0) === 0, 'the position flattened on the exchange while Postgres is down', 30_000);
    const book = await eventually(() => h.client.workflow.getHandle(riskBookWorkflowId(h.taskQueue)).query(riskBookQuery), 'the risk book');
    expect(book.kill).toMatchObject({ on: true, reason: 'outage drill', flatten: true });
    await sleep(3_000);
    await pg.start();

    await eventually(async () => (await h.journal.getGlobalKill()).on, 'the risk book to persist the switch', 60_000);
    expect((await h.journal.getGlobalKill()).reason).toBe('outage drill');
    const report = await h.client.workflow.getHandle(`qt-position-${positionId}`).result();
    expect(report.exitReason).toBe('KILL_FLATTEN');
    expect((await h.journal.getPosition(positionId))?.status).toBe('CLOSED');
    for (const symbol of [quiet, trading]) await eventually(async () => (await journaledTicks(symbol)).complete, `${symbol}'s journal complete`, 60_000);
    await expectAllRunning([symbolWorkflowId(quiet), symbolWorkflowId(trading), riskBookWorkflowId(h.taskQueue), reconcilerWorkflowId(h.taskQueue)]);
    await captureHistory(riskBookWorkflowId(h.taskQueue), 'risk-book-kill-outage');
  }, 120_000);
});
