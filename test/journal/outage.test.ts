import { Client as PgClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Journal } from '../../journal/journal.js';
import type { SignalRecord } from '../../journal/types.js';
import { useTestJournal } from '../helpers/db.js';
import { startRestartablePostgres, type RestartablePostgres } from '../helpers/restartable-postgres.js';
import { sleep } from '../../infra/sleep.js';

const signal = (over: Partial<SignalRecord> = {}): SignalRecord => ({
  workflowId: 'qt-symbol-BTCUSDT', symbol: 'BTCUSDT', seq: 1, candleTime: new Date('2026-01-01T00:00:00Z'),
  signal: 'HOLD', confidence: 0.9, probHold: 0.9, probBuy: 0.05, probSell: 0.05, model: 'xgb-test', price: 42_000,
  decision: 'HOLD', reason: null, at: new Date(), instanceId: 'aaaa1111', runId: 'run-1', ...over,
});

describe('journal across a Postgres restart', () => {
  let pg: RestartablePostgres;
  let journal: Journal;
  beforeAll(async () => {
    pg = await startRestartablePostgres();
    journal = await Journal.connect(pg.url);
    await journal.migrate();
  });
  afterAll(async () => {
    await journal?.close();
    await pg?.destroy();
  });

  it('survives the server going away under idle and checked-out clients, and reconnects on the next query', async () => {
    // Fill the pool with idle clients, and hold one inside a transaction while the server stops:
    // another session locks the kill switch row, so setGlobalKill waits with its client checked out.
    await journal.setGlobalKill(false, 'initial');
    await Promise.all(Array.from({ length: 4 }, () => journal.pool.query('SELECT pg_sleep(0.05)')));
    const locker = new PgClient({ connectionString: pg.url });
    locker.on('error', () => undefined);
    await locker.connect();
    await locker.query("BEGIN; SELECT * FROM risk_state WHERE key = 'global_kill' FOR UPDATE");
    const held = journal.setGlobalKill(true, 'during restart').catch((e: Error) => e);
    await sleep(300);
    await pg.stop();
    // Stopping the server ends both sessions in no fixed order: when the locker's goes first, the held write commits
    // before its own session ends. Either way nothing is lost: the caller gets an error, or the write is there.
    const outcome = await held;
    await locker.end().catch(() => undefined);
    await expect(journal.getGlobalKill()).rejects.toThrow();
    await pg.start();
    // The process is still alive (an unhandled 'error' event would have killed the test worker) and the pool reconnects.
    expect((await journal.pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    if (!(outcome instanceof Error)) expect(await journal.getGlobalKill()).toMatchObject({ on: true, reason: 'during restart' });
    await journal.setGlobalKill(true, 'after restart');
    expect(await journal.getGlobalKill()).toMatchObject({ on: true, reason: 'after restart' });
  });

  it('fails fast instead of hanging while the server is down', async () => {
    await pg.stop();
    const started = Date.now();
    await expect(journal.recordSignals([signal({ seq: 99 })])).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(10_000);
    await pg.start();
  });
});

describe('signal keys per run lineage', () => {
  const db = useTestJournal();

  it('keeps the rows of a loop started again, which counts its ticks from 1 again', async () => {
    const first = [1, 2, 3].map((seq) => signal({ seq, runId: 'run-a', instanceId: 'inst-a' }));
    expect(await db.journal.recordSignals(first)).toEqual({ inserted: 3, duplicates: 0, superseded: 0, collisions: 0 });
    const restarted = [1, 2].map((seq) => signal({ seq, runId: 'run-b', instanceId: 'inst-b', decision: 'BELOW_THRESHOLD' }));
    expect(await db.journal.recordSignals(restarted)).toEqual({ inserted: 2, duplicates: 0, superseded: 0, collisions: 0 });
    const rows = await db.journal.recentSignals({ sinceMs: 60_000, symbol: 'BTCUSDT' });
    expect(rows).toHaveLength(5);
    expect(new Set(rows.map((r) => r.instanceId))).toEqual(new Set(['inst-a', 'inst-b']));
  });

  it('books a retry once and never drops a conflicting row silently', async () => {
    const row = signal({ symbol: 'ETHUSDT', seq: 7, runId: 'run-c' });
    expect(await db.journal.recordSignals([row, signal({ symbol: 'ETHUSDT', seq: 8, runId: 'run-c' })])).toMatchObject({ inserted: 2 });
    // The same tick written again (an activity retried after its answer was lost).
    expect(await db.journal.recordSignals([{ ...row, at: new Date().toISOString() }])).toEqual({ inserted: 0, duplicates: 1, superseded: 0, collisions: 0 });
    // The same key with another decision at the same moment cannot be a retry or a re-run: it is kept as a risk event.
    expect(await db.journal.recordSignals([{ ...row, decision: 'ENTER', signal: 'BUY' }])).toEqual({ inserted: 0, duplicates: 0, superseded: 0, collisions: 1 });
    const [event] = await db.journal.riskEvents(10, 'SIGNAL_KEY_COLLISION');
    expect(event).toMatchObject({ symbol: 'ETHUSDT', detail: { kept: { decision: 'HOLD' }, refused: { decision: 'ENTER', seq: 7, runId: 'run-c' } } });
  });

  it('keeps the decision of a workflow task run again after its worker died, and refuses an older one', async () => {
    // The first run of the task wrote its decision, then the worker died before the task completed; the task ran
    // again on another worker a few seconds later with a new signal: that decision is the history's.
    const lost = signal({ symbol: 'SOLUSDT', seq: 3, runId: 'run-d', at: new Date(Date.now() - 5_000), signal: 'HOLD', decision: 'HOLD' });
    expect(await db.journal.recordSignals([lost])).toMatchObject({ inserted: 1 });
    const kept = signal({ symbol: 'SOLUSDT', seq: 3, runId: 'run-d', signal: 'BUY', decision: 'ENTER', reason: 'LONG notional 100.00' });
    expect(await db.journal.recordSignals([kept])).toEqual({ inserted: 0, duplicates: 0, superseded: 1, collisions: 0 });
    // A write from before it (a worker that was only slow, answering late) does not replace it.
    expect(await db.journal.recordSignals([{ ...lost, at: new Date(Date.now() - 1_000) }])).toEqual({ inserted: 0, duplicates: 0, superseded: 0, collisions: 1 });
    const rows = (await db.journal.recentSignals({ sinceMs: 60_000, symbol: 'SOLUSDT' })).filter((r) => r.runId === 'run-d');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ seq: 3, signal: 'BUY', decision: 'ENTER', reason: 'LONG notional 100.00' });
  });

  it('dates a pass run again with the same decision by the run that became history', async () => {
    // The dead worker's task journaled a HOLD, then the pass ran again on the next worker, also HOLD: the row is
    // the same decision, but its clock and confidence are the re-run's (a chaos run measures recovery by it).
    const lost = signal({ symbol: 'ADAUSDT', seq: 5, runId: 'run-f', at: new Date(Date.now() - 6_000), confidence: 0.61, taskEvent: 188 });
    expect(await db.journal.recordSignals([lost])).toMatchObject({ inserted: 1 });
    const rerunAt = new Date(Date.now() - 1_000);
    const rerun = { ...lost, at: rerunAt, confidence: 0.64, taskEvent: 191 };
    expect(await db.journal.recordSignals([rerun])).toEqual({ inserted: 0, duplicates: 1, superseded: 0, collisions: 0 });
    // The lost attempt's write arriving late changes nothing.
    expect(await db.journal.recordSignals([lost])).toEqual({ inserted: 0, duplicates: 1, superseded: 0, collisions: 0 });
    const rows = (await db.journal.recentSignals({ sinceMs: 60_000, symbol: 'ADAUSDT' })).filter((r) => r.runId === 'run-f');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ seq: 5, decision: 'HOLD', confidence: 0.64 });
    expect(new Date(rows[0]!.at).getTime()).toBe(rerunAt.getTime());
  });

  it('keeps the decision of a task run again that read its clock from history, and refuses the lost attempt written late', async () => {
    // The lost attempt's heartbeat put its clock read in history, so the task run again decides at the same moment:
    // where each task started in the history (taskEvent), not the clock, says which decision history keeps.
    const at = new Date(Date.now() - 2_000);
    const lost = signal({ symbol: 'XRPUSDT', seq: 14, runId: 'run-e', at, signal: 'BUY', decision: 'POSITION_OPEN', taskEvent: 229 });
    expect(await db.journal.recordSignals([lost])).toMatchObject({ inserted: 1 });
    const rerun = { ...lost, signal: 'HOLD' as const, decision: 'HOLD', taskEvent: 236 };
    expect(await db.journal.recordSignals([rerun])).toEqual({ inserted: 0, duplicates: 0, superseded: 1, collisions: 0 });
    // The lost attempt's write arriving after it (a slow worker, not a dead one) changes nothing.
    expect(await db.journal.recordSignals([lost])).toEqual({ inserted: 0, duplicates: 0, superseded: 0, collisions: 1 });
    const rows = (await db.journal.recentSignals({ sinceMs: 60_000, symbol: 'XRPUSDT' })).filter((r) => r.runId === 'run-e');
    expect(rows.map((r) => r.decision)).toEqual(['HOLD']);
  });

  it('records a kill switch change once, however often it is written', async () => {
    await db.journal.setGlobalKill(true, 'operator kill');
    await db.journal.setGlobalKill(true, 'operator kill');
    await db.journal.setGlobalKill(false, 'operator resume');
    const kinds = (await db.journal.riskEvents(10)).map((e) => e.kind).filter((k) => k.startsWith('GLOBAL'));
    expect(kinds).toEqual(['GLOBAL_RESUME', 'GLOBAL_KILL']);
  });
});
