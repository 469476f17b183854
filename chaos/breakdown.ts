/**
 * Where the time of each worker restart of a kept chaos run went, from the run's own records:
 * `npm run chaos:breakdown -- <run dir>` (the directory of a run made with --dir or --keep).
 *
 * It starts a Temporal dev server on a copy of the run's SQLite file and reads every workflow history.
 * A workflow task's `WorkflowTaskStarted` event names the worker process that took it (identity
 * `pid@host`), so the first task each workflow's new worker took, how long the workflow's history was then
 * (what the worker had to replay), the tasks the dead worker had started (they wait for their task timeout)
 * and the first tick's decision after the restart can all be told apart. The worker's start-up stages come
 * from its `worker start-up` log line.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import protos from '@temporalio/proto';
import { startTemporalDevServer } from '../infra/temporal.js';

type HistoryEvent = protos.temporal.api.history.v1.IHistoryEvent;
const EventType = protos.temporal.api.enums.v1.EventType;

interface WorkerStart {
  pid: number;
  /** Wall time of the `worker started` line: the moment recovery is measured from. */
  backAt: number;
  stages?: Record<string, number>;
}

interface RunHistory {
  workflowId: string;
  runId: string;
  events: HistoryEvent[];
}

const timeOf = (e: HistoryEvent): number => {
  const t = e.eventTime!;
  return Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
};
const payloadBytes = (e: HistoryEvent): number => JSON.stringify(e).length;
/** A local activity marker's details (activity type, result) as text. */
const markerText = (e: HistoryEvent): string =>
  Object.values(e.markerRecordedEventAttributes?.details ?? {})
    .flatMap((p) => p.payloads ?? [])
    .map((p) => Buffer.from(p.data ?? []).toString())
    .join(' ');
/** Whether a local activity marker journaled a decision: journalDecisions, or a quiet pass's evaluatePass that wrote its row. */
const journaled = (text: string): boolean => text.includes('"journalDecisions"') || (text.includes('"evaluatePass"') && text.includes('"journaled":true'));
const pidOf = (identity: string | null | undefined): number => Number((identity ?? '').split('@')[0]);

function workerStarts(dir: string): WorkerStart[] {
  const starts: WorkerStart[] = [];
  let stages: Record<string, number> | undefined;
  for (const line of readFileSync(path.join(dir, 'worker.log'), 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    let rec: { msg?: string; time?: string; pid?: number; stagesMs?: Record<string, number> };
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    if (rec.msg === 'worker start-up') stages = rec.stagesMs;
    if (rec.msg === 'worker started') {
      starts.push({ pid: rec.pid ?? 0, backAt: Date.parse(rec.time!), ...(stages ? { stages } : {}) });
      stages = undefined;
    }
  }
  return starts;
}

async function histories(client: Client): Promise<RunHistory[]> {
  const out: RunHistory[] = [];
  for await (const w of client.workflow.list()) {
    const h = await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
    out.push({ workflowId: w.workflowId, runId: w.runId, events: h.events ?? [] });
  }
  return out;
}

interface Row {
  workflow: string;
  /** Events in the run before the new worker's first task: what it replayed. */
  replayEvents: number;
  replayKiB: number;
  /** ms after back: the dead worker's started task timing out, the new worker's first task started / completed. */
  timedOutMs: number | null;
  firstStartMs: number;
  firstDoneMs: number | null;
  /** ms after back: the first completed task that journaled a decision (symbol loops). */
  decisionMs: number | null;
}

function rowFor(run: RunHistory, start: WorkerStart, nextBackAt: number): Row | null {
  const ev = run.events;
  // Only the runs open when the worker came back (a run started since is not a replay).
  if (ev.length === 0 || timeOf(ev[0]!) > start.backAt) return null;
  const first = ev.findIndex((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED && timeOf(e) >= start.backAt - 60_000 && pidOf(e.workflowTaskStartedEventAttributes?.identity) === start.pid);
  if (first < 0 || timeOf(ev[first]!) > nextBackAt) return null;
  // Replay: the run's events before this task (the worker holds nothing of it yet).
  const replay = ev.slice(0, first);
  // A task the dead worker had started waits for its start-to-close timeout before anyone else may take it.
  const timedOut = ev.find(
    (e, i) =>
      i < first &&
      e.workflowTaskTimedOutEventAttributes?.timeoutType === protos.temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE &&
      timeOf(e) >= start.backAt - 30_000,
  );
  const done = ev.slice(first).find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  let decisionMs: number | null = null;
  for (let i = first; i < ev.length; i++) {
    const e = ev[i]!;
    if (e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED && journaled(markerText(e))) {
      decisionMs = timeOf(e) - start.backAt;
      break;
    }
  }
  return {
    workflow: run.workflowId.replace(/^qt-/, ''),
    replayEvents: replay.length,
    replayKiB: Math.round(replay.reduce((n, e) => n + payloadBytes(e), 0) / 102.4) / 10,
    timedOutMs: timedOut ? timeOf(timedOut) - start.backAt : null,
    firstStartMs: timeOf(ev[first]!) - start.backAt,
    firstDoneMs: done ? timeOf(done) - start.backAt : null,
    decisionMs,
  };
}

/** Characters of a marker's details a timeline prints (`QT_TIMELINE_WIDTH` widens it). */
const TIMELINE_WIDTH = Number(process.env.QT_TIMELINE_WIDTH ?? 160);

/** Every event of one workflow from 10 s before to 10 s after a worker came back (`--timeline <workflow id part>`). */
function printTimeline(runs: RunHistory[], name: string, backAt: number): void {
  for (const run of runs.filter((r) => r.workflowId.includes(name))) {
    const events = run.events.filter((e) => Math.abs(timeOf(e) - backAt) <= 10_000);
    if (events.length === 0) continue;
    console.log(`  ${run.workflowId} (ms after back):`);
    for (const e of events) {
      const type = EventType[e.eventType ?? 0]?.replace(/^EVENT_TYPE_/, '') ?? String(e.eventType);
      const detail = e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED ? ` ${markerText(e).slice(0, TIMELINE_WIDTH)}` : '';
      console.log(`    ${String(timeOf(e) - backAt).padStart(7)} ${type}${detail}`);
    }
  }
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  const at = process.argv.indexOf('--timeline');
  const timeline = at > 0 ? process.argv[at + 1] : undefined;
  if (!dir || !existsSync(path.join(dir, 'temporal.sqlite'))) throw new Error('usage: npm run chaos:breakdown -- <chaos run directory with temporal.sqlite> [--timeline <workflow id part>]');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'qt-breakdown-'));
  const db = path.join(tmp, 'temporal.sqlite');
  copyFileSync(path.join(dir, 'temporal.sqlite'), db);
  // The file is in WAL mode (infra/temporal.ts): commits not yet checkpointed are in the -wal file.
  if (existsSync(path.join(dir, 'temporal.sqlite-wal'))) copyFileSync(path.join(dir, 'temporal.sqlite-wal'), `${db}-wal`);
  const server = await startTemporalDevServer({ dbFile: db, port: 0, uiPort: false });
  try {
    const connection = await Connection.connect({ address: server.address });
    const runs = await histories(new Client({ connection }));
    await connection.close();
    const starts = workerStarts(dir);
    // The k-th worker process to take a task is the k-th that logged `worker started`.
    const firstSeen = new Map<number, number>();
    for (const r of runs)
      for (const e of r.events)
        if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED) {
          const pid = pidOf(e.workflowTaskStartedEventAttributes?.identity);
          firstSeen.set(pid, Math.min(firstSeen.get(pid) ?? Number.POSITIVE_INFINITY, timeOf(e)));
        }
    // Without a pid in the log line: the process that took its first task soonest after the line before.
    starts.forEach((s, k) => {
      const after = k === 0 ? 0 : starts[k - 1]!.backAt + 1_000;
      s.pid ||= [...firstSeen.entries()].filter(([, t]) => t >= after).sort((a, b) => a[1] - b[1])[0]?.[0] ?? 0;
    });
    for (let k = 1; k < starts.length; k++) {
      const start = starts[k]!;
      const rows = runs.map((r) => rowFor(r, start, starts[k + 1]?.backAt ?? Number.POSITIVE_INFINITY)).filter((r): r is Row => r !== null);
      const loops = rows.filter((r) => r.workflow.startsWith('symbol-'));
      const stages = start.stages ? Object.entries(start.stages).map(([s, ms]) => `${s} ${ms}`).join(', ') : 'not logged';
      console.log(`\nworker ${start.pid} back at ${new Date(start.backAt).toISOString()}; start-up (ms): ${stages}`);
      const sum = (rs: Row[], f: (r: Row) => number) => rs.reduce((n, r) => n + f(r), 0);
      const others = rows.filter((r) => !r.workflow.startsWith('symbol-'));
      const lastLoop = Math.max(...loops.map((r) => r.decisionMs ?? r.firstDoneMs ?? Number.NaN));
      console.log(`  workflows taken: ${rows.length}; replayed: ${loops.length} loops ${sum(loops, (r) => r.replayEvents)} events (${sum(loops, (r) => r.replayKiB).toFixed(0)} KiB), others ${sum(others, (r) => r.replayEvents)} events (${sum(others, (r) => r.replayKiB).toFixed(0)} KiB)`);
      console.log(`  last loop's first decision after back: ${lastLoop} ms`);
      console.log('  workflow              replay ev   KiB  timed out  1st start  1st done  decision   (ms after back)');
      for (const r of rows.sort((a, b) => a.firstStartMs - b.firstStartMs)) {
        const f = (n: number | null) => (n === null ? '-' : String(n)).padStart(9);
        console.log(`  ${r.workflow.slice(0, 22).padEnd(22)} ${String(r.replayEvents).padStart(8)} ${r.replayKiB.toFixed(1).padStart(6)} ${f(r.timedOutMs)} ${f(r.firstStartMs)} ${f(r.firstDoneMs)} ${f(r.decisionMs)}`);
      }
      if (timeline) printTimeline(runs, timeline, start.backAt);
    }
  } finally {
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
