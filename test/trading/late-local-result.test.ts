import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { NativeConnection, Worker } from '@temporalio/worker';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TradingActivities } from '../../activities/contracts.js';
import { passActivities } from '../../activities/pass.js';
import { bundleWorkflows } from '../../worker/create-worker.js';
import { installTemporalLogger } from '../../worker/runtime.js';
import { marketWakeSignal, positionClosedSignal, symbolStateQuery, symbolWorkflowId } from '../../workflows/contracts.js';
import { symbolWorkflow } from '../../workflows/symbol.js';
import { FakeVenue } from '../workflows/fake-venue.js';
import { PARAMS, uniqueSymbol } from '../workflows/setup.js';
import { eventually } from './harness.js';

/** The local activities that open a pass with its clock read: `readClock`, or a quiet pass's `evaluatePass`. */
const PASS_CLOCK_READS = ['readClock', 'evaluatePass'];

interface HistoryEvent {
  eventId: string;
  eventType: string;
  [attributes: string]: unknown;
}

/**
 * Under heavy load the Temporal core SDK (1.24.0) can write a local activity's marker to history one workflow
 * task before the workflow sees the result: the result lands while the worker reports a heartbeat of a long
 * workflow task, and reaches the workflow with the next task, after a signal that arrived meanwhile. A replay
 * resolves it from the marker one task earlier, before that signal. The chaos runs stopped symbol loops this
 * way (a position report's release sent right after the loop's clock read).
 *
 * This test records, on the real dev server, the loop's clock read held across a workflow task heartbeat while
 * a position report arrives (the legitimate order: the result after the report), then moves the clock read's
 * marker to where the defect writes it and replays both. The loop must decide the same in both orders.
 */
describe('a local activity result delivered one workflow task after its marker', { timeout: 90_000 }, () => {
  let client: Client;
  let connection: Connection;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = `late-la-${randomBytes(4).toString('hex')}`;
  const venue = new FakeVenue(async () => Date.now());
  let hold: { reached: () => void; released: Promise<void> } | null = null;

  beforeAll(async () => {
    installTemporalLogger(pino({ level: 'error' }));
    const activities = venue.activities() as TradingActivities;
    // A pass's first local activity reads the clock (its own, or inside a quiet pass's evaluatePass): held there.
    const readClock = async (): Promise<number> => {
      const h = hold;
      hold = null;
      if (h) {
        h.reached();
        await h.released;
      }
      return Date.now();
    };
    const address = inject('temporalAddress');
    worker = await Worker.create({
      connection: await NativeConnection.connect({ address }),
      taskQueue,
      workflowBundle: await bundleWorkflows(),
      activities: { ...activities, readClock, ...passActivities({ ...activities, readClock }) },
    });
    running = worker.run();
    connection = await Connection.connect({ address });
    client = new Client({ connection });
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await connection?.close();
  });

  /** A loop on a new symbol with a 1 s interval (and `tickCap` ticks a run). */
  async function startLoop(tickCap?: number): Promise<{ symbol: string; handle: WorkflowHandle<typeof symbolWorkflow> }> {
    const symbol = uniqueSymbol();
    await venue.setPrice(symbol, 100);
    const handle = await client.workflow.start(symbolWorkflow, {
      workflowId: symbolWorkflowId(symbol),
      taskQueue,
      // A short task timeout: the worker heartbeats a task with a local activity in flight after 80 % of it.
      workflowTaskTimeout: '2s',
      args: [{ symbol, params: { ...PARAMS, checkIntervalSeconds: 1 }, flags: { aiTradingEnabled: true, executionEnabled: true }, ...(tickCap ? { tickCap } : {}) }],
    });
    return { symbol, handle };
  }

  /**
   * Start a loop, hold its clock read across a workflow task heartbeat while `arrive` sends a signal, let it go
   * on for two ticks, and replay the history as recorded and with the clock read's marker one task earlier.
   */
  async function replaysBothOrders(savedAs: string, arrive: (handle: WorkflowHandle<typeof symbolWorkflow>, symbol: string) => Promise<void>): Promise<void> {
    const { symbol, handle } = await startLoop();
    // An earlier report, taken in the ordinary way (as in a loop that has closed positions before).
    await handle.signal(positionClosedSignal, report(`${symbol}-earlier`));
    await eventually(async () => venue.decisions.filter((d) => d.symbol === symbol).length >= 2, 'two ticks');

    let release!: () => void;
    const reached = new Promise<void>((resolve) => {
      hold = { reached: resolve, released: new Promise<void>((r) => (release = r)) };
    });
    await reached;
    // The signal arrives while the clock read is held: the server appends it after that task's heartbeat.
    await arrive(handle, symbol);
    await eventually(async () => {
      const events = await eventsOf(handle);
      const signals = events.flatMap((e, i) => (e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED' ? [i] : []));
      return signals.length === 2 && events.slice(signals[1]).some((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_STARTED');
    }, 'the heartbeat task and the task that delivers the signal');
    release();
    const ticks = (await handle.query(symbolStateQuery)).tickSeq;
    await eventually(async () => (await handle.query(symbolStateQuery)).tickSeq >= ticks + 2, 'two more ticks');
    await handle.terminate('test over');

    const recorded = await eventsOf(handle);
    const moved = withMarkerBeforeSignal(recorded, PASS_CLOCK_READS);
    saveHistory(savedAs, moved);
    await expectBothReplay(symbol, recorded, moved);
  }

  const report = (positionId: string) => ({ positionId, outcome: 'CLOSED' as const, exitReason: 'TAKE_PROFIT' as const, netPnl: 1.5, at: Date.now(), venueTime: Date.now() });

  it('replays whether the clock read resolves before or after the report', async () => {
    await replaysBothOrders('symbol-late-clock-result', (handle, symbol) => handle.signal(positionClosedSignal, report(`${symbol}-stale`)));
  });

  // The chaos run's "No command scheduled for event TimerStarted": the wake flag was cleared after the clock read.
  it('replays whether the clock read resolves before or after a market wake', async () => {
    await replaysBothOrders('symbol-late-clock-result-wake', (handle) => handle.signal(marketWakeSignal, { reasons: ['CANDLE_CLOSED'] }));
  });

  // The chaos run's "Non-deprecated patch marker encountered for change local-tick-activities": the run's first
  // clock read came one task late, and the patch checked right after it was recorded in that later task.
  it("replays whether a run's first clock read resolves in its first task or in the next", async () => {
    // One tick a run: every run after the first goes from its clock read straight to its tick (it owns its symbol).
    const { symbol, handle: started } = await startLoop(1);
    await eventually(async () => venue.decisions.some((d) => d.symbol === symbol), 'the first run\'s tick');
    let release!: () => void;
    const reached = new Promise<void>((resolve) => {
      hold = { reached: resolve, released: new Promise<void>((r) => (release = r)) };
    });
    await reached;
    // The second run's first clock read is held past 80 % of the task timeout: the worker completes the run's
    // first task as a heartbeat and takes another.
    const handle = client.workflow.getHandle(symbolWorkflowId(symbol), (await started.describe()).runId);
    await eventually(async () => (await eventsOf(handle)).filter((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_STARTED').length >= 2, 'the heartbeat task');
    release();
    await eventually(async () => venue.decisions.filter((d) => d.symbol === symbol).length >= 3, 'two more ticks');
    await started.terminate('test over');

    const recorded = await eventsOf(handle);
    const moved = withMarkerInTaskBefore(recorded, PASS_CLOCK_READS);
    saveHistory('symbol-late-first-clock-result', moved);
    await expectBothReplay(symbol, recorded, moved);
  });
});

/** The history as recorded and with the marker moved both replay on the current workflow code. */
async function expectBothReplay(symbol: string, recorded: HistoryEvent[], moved: HistoryEvent[]): Promise<void> {
  const workflowBundle = await bundleWorkflows();
  for (const [name, events] of [['as recorded', recorded], ['marker one task earlier', moved]] as const) {
    const error = await Worker.runReplayHistory({ workflowBundle }, { events }, `${symbol}-${name}`).then(
      () => null,
      (err: Error) => err.message,
    );
    expect({ name, error }).toEqual({ name, error: null });
  }
}

/** With QT_CAPTURE_HISTORIES=1 the reordered history joins the saved ones the replay test replays. */
function saveHistory(name: string, events: HistoryEvent[]): void {
  if (process.env.QT_CAPTURE_HISTORIES === '1') writeFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'histories', `${name}.json`), JSON.stringify({ events }, null, 2));
}

async function eventsOf(handle: { fetchHistory(): Promise<Parameters<typeof historyToJSON>[0]> }): Promise<HistoryEvent[]> {
  return (JSON.parse(historyToJSON(await handle.fetchHistory())) as { events: HistoryEvent[] }).events;
}

/**
 * The history the defect writes: the first signal that follows a workflow task completion and is followed by a
 * task whose first command is a marker of one of `activityTypes` gets that marker in front of it, as if the marker had
 * been written with the previous task. Event ids of the moved events and every reference to them follow.
 */
function withMarkerBeforeSignal(events: HistoryEvent[], activityTypes: readonly string[]): HistoryEvent[] {
  const at = events.findIndex(
    (e, i) =>
      e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED' &&
      events[i - 1]?.eventType === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED' &&
      events[i + 3]?.eventType === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED' &&
      isMarkerOf(events[i + 4], activityTypes),
  );
  if (at < 0) throw new Error(`no signal before a task that starts with the ${activityTypes.join(' or ')} marker: the recorded order did not happen`);
  const block = events.slice(at, at + 5); // signal, task scheduled, started, completed, marker
  const reordered = [block[4]!, ...block.slice(0, 4)];
  const renumbered = new Map(reordered.map((e, i) => [e.eventId, String(Number(events[at]!.eventId) + i)]));
  const moved: HistoryEvent[] = reordered.map((e) => ({ ...e, eventId: renumbered.get(e.eventId)! }));
  // The marker now belongs to the task completed just before it.
  const marker = moved[0]!.markerRecordedEventAttributes as Record<string, unknown>;
  moved[0] = { ...moved[0]!, markerRecordedEventAttributes: { ...marker, workflowTaskCompletedEventId: events[at - 1]!.eventId } };
  return [...events.slice(0, at), ...moved, ...events.slice(at + 5)].map((e) => remapIds(e, renumbered) as HistoryEvent);
}

/**
 * The history the defect writes when no signal came in between: the first marker of one of `activityTypes` that opens a
 * task's commands is moved in front of that task, into the commands of the task before.
 */
function withMarkerInTaskBefore(events: HistoryEvent[], activityTypes: readonly string[]): HistoryEvent[] {
  const marker = events.findIndex(
    (e, i) =>
      isMarkerOf(e, activityTypes) &&
      events[i - 1]?.eventType === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED' &&
      events[i - 2]?.eventType === 'EVENT_TYPE_WORKFLOW_TASK_STARTED' &&
      events[i - 3]?.eventType === 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED',
  );
  const at = marker - 3;
  const before = events.slice(0, at).map((e) => e.eventType).lastIndexOf('EVENT_TYPE_WORKFLOW_TASK_COMPLETED');
  if (marker < 0 || before < 0) throw new Error(`no task that opens with the ${activityTypes.join(' or ')} marker after another task: the recorded order did not happen`);
  const block = events.slice(at, marker + 1); // task scheduled, started, completed, marker
  const reordered = [block[3]!, ...block.slice(0, 3)];
  const renumbered = new Map(reordered.map((e, i) => [e.eventId, String(Number(events[at]!.eventId) + i)]));
  const moved: HistoryEvent[] = reordered.map((e) => ({ ...e, eventId: renumbered.get(e.eventId)! }));
  const attributes = moved[0]!.markerRecordedEventAttributes as Record<string, unknown>;
  moved[0] = { ...moved[0]!, markerRecordedEventAttributes: { ...attributes, workflowTaskCompletedEventId: events[before]!.eventId } };
  return [...events.slice(0, at), ...moved, ...events.slice(marker + 1)].map((e) => remapIds(e, renumbered) as HistoryEvent);
}

function isMarkerOf(e: HistoryEvent | undefined, activityTypes: readonly string[]): boolean {
  if (e?.eventType !== 'EVENT_TYPE_MARKER_RECORDED') return false;
  const data = (e.markerRecordedEventAttributes as { details?: { data?: { payloads?: { data?: string }[] } } }).details?.data?.payloads?.[0]?.data;
  return !!data && activityTypes.includes((JSON.parse(Buffer.from(data, 'base64').toString()) as { activity_type?: string }).activity_type ?? '');
}

/** Every `…EventId` field that names a moved event names its new id. */
function remapIds(value: unknown, ids: Map<string, string>, key = ''): unknown {
  if (typeof value === 'string') return key.endsWith('EventId') && ids.has(value) ? ids.get(value) : value;
  if (Array.isArray(value)) return value.map((v) => remapIds(v, ids));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === 'eventId' ? v : remapIds(v, ids, k)]));
  return value;
}
