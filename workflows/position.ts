import {
  allHandlersFinished,
  condition,
  makeContinueAsNewFunc,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { exitLevels, newTracker, positionRules } from '../core/exits.js';
import {
  LIFECYCLE_TIMING,
  armStreamExit,
  newAdoption,
  newEntry,
  resumedPosition,
  exitOrderId,
  step,
  type CloseReason,
  type JournalWrite,
  type LifecycleCommand,
  type LifecycleFact,
  type ArmedExit,
  type PositionLifecycle,
} from '../core/position-lifecycle.js';
import type { ExitWatchRequest, PositionActivities } from '../activities/contracts.js';
import {
  WORKFLOW_TASK_TIMEOUT,
  closePositionSignal,
  exitCrossedSignal,
  exitWatchResetSignal,
  positionClosedSignal,
  positionStateQuery,
  type LegacyPositionState,
  type PositionInput,
  type ExitCrossing,
  type PositionReport,
} from './contracts.js';
import { releaseSignal, riskBookWorkflowId } from './book-contracts.js';
import { trustedNow } from './clock.js';
import { failureText } from './failure-text.js';
import { legacyPositionWorkflow } from './position-legacy.js';
import { runEndsAtEventLimit } from './run-length.js';
import { runPatches, type PatchCheck } from './run-patches.js';

/**
 * Sending an order is one attempt: what an unknown outcome means is for the lifecycle to find out (it looks
 * the id up), never for a blind retry. The attempt's own send window (sendBefore) is shorter than this.
 */
const orders = proxyActivities<PositionActivities>({ startToCloseTimeout: '20s', heartbeatTimeout: '5s', retry: { maximumAttempts: 1 } });
/** One stop attempt is short; the lifecycle retries until its bound (a few seconds), then closes at market. */
const stops = proxyActivities<PositionActivities>({ startToCloseTimeout: '6s', heartbeatTimeout: '3s', retry: { maximumAttempts: 1 } });
const reads = proxyActivities<PositionActivities>({ startToCloseTimeout: '10s', retry: { initialInterval: '500ms', maximumAttempts: 2 } });
/** The journal pump retries on its own schedule, so a Postgres outage never holds the lifecycle up. */
const journal = proxyActivities<PositionActivities>({ startToCloseTimeout: '15s', retry: { maximumAttempts: 1 } });
const notices = proxyLocalActivities<PositionActivities>({ startToCloseTimeout: '5s', retry: { maximumAttempts: 3 } });
/** Exit watches are in-memory registrations in the worker that runs this workflow's tasks: local, quick, best effort. */
const watches = proxyLocalActivities<PositionActivities>({ startToCloseTimeout: '5s', retry: { maximumAttempts: 2 } });

/**
 * Exits on the mark stream (event-driven mode): an open position registers its exit levels with the worker's
 * watcher, which signals a crossed level at once; the position then reads the exchange only this often (a
 * fallback, and the check that the exchange-side stop has not fired), unless the worker has no trusted stream
 * for the symbol. Positions started before this change (no marker) keep polling as they did.
 */
const EXITS_ON_STREAM = 'exits-on-stream';
const STREAMED_POLL_MS = 60_000;
/**
 * The watch sends the position's armed exit itself the moment a level is crossed (core/position-lifecycle.ts
 * armStreamExit); positions started before this only have crossings signalled.
 */
const ARMED_STREAM_EXITS = 'armed-stream-exits';

/** The position releases its reservation in the risk book itself when it closes (before, the symbol loop did). */
const RELEASES_OWN_RESERVATION = 'position-releases-own-reservation';

/** A step is one activity or timer (a check is two); runs usually end earlier, at MAX_EVENTS_PER_RUN events. */
const MAX_STEPS_PER_RUN = 2_000;
const JOURNAL_BATCH = 50;

/**
 * One exchange position: entry (or adoption), protective stop, exits, books. The rules live in
 * core/position-lifecycle.ts; this workflow runs the lifecycle's commands as activities, feeds their
 * answers back as facts, keeps the journal writes until Postgres takes them, and reports the outcome to
 * the symbol workflow (by workflow id, so any of its runs receives it).
 *
 * Versioning: a history without the 'position-lifecycle' marker comes from the earlier position workflow
 * and replays through it (workflows/position-legacy.ts); such a position still open hands over to the
 * lifecycle at its next check. Every position started now records the marker and runs the lifecycle.
 */
export async function positionWorkflow(input: PositionInput): Promise<PositionReport> {
  if (!patched('position-lifecycle')) return legacyPositionWorkflow(input, (s) => runLifecycle(input, fromLegacy(input, s), patched));
  // The order of this list is the order of the markers in runs recorded since: keep it, append new ones.
  return runLifecycle(input, initialLifecycle(input), runPatches([RELEASES_OWN_RESERVATION, EXITS_ON_STREAM, ARMED_STREAM_EXITS]));
}

function isLifecycle(s: PositionInput['state']): s is PositionLifecycle {
  return !!s && (s as PositionLifecycle).version === 2;
}

function initialLifecycle(input: PositionInput): PositionLifecycle {
  if (isLifecycle(input.state)) return input.state;
  if (input.state) return fromLegacy(input, input.state);
  const id = { positionId: input.positionId, workflowId: workflowInfo().workflowId, symbol: input.symbol, side: input.side, idStem: input.orderIdStem };
  if (input.adopt) return newAdoption({ ...id, entryPrice: input.adopt.entryPrice, reason: input.adopt.reason }, Date.now());
  return newEntry({ ...id, notional: input.notional }, Date.now());
}

/** A position of the earlier workflow, open with its stop and its journal row, continues under the lifecycle. */
function fromLegacy(input: PositionInput, s: LegacyPositionState): PositionLifecycle {
  const levels = exitLevels(input.side, s.entryPrice, input.params);
  return resumedPosition(
    {
      positionId: input.positionId,
      workflowId: workflowInfo().workflowId,
      symbol: input.symbol,
      side: input.side,
      idStem: input.orderIdStem,
      quantity: s.quantity,
      entryPrice: s.entryPrice,
      entryFee: s.entryFee,
      openedAt: s.openedAt,
      tracker: s.tracker ?? newTracker(input.side, s.entryPrice, s.openedAt),
      stopPrice: s.stopPrice ?? levels.stopLoss,
      takeProfitPrice: s.takeProfitPrice ?? levels.takeProfit,
    },
    Array.from({ length: s.exitAttempts }, (_, i) => exitOrderId(input.orderIdStem, i + 1)),
    s.closeRequest,
    Date.now(),
  );
}

/** `p`: the run's patches, decided at its start (a legacy position handing over asks as it goes). */
async function runLifecycle(input: PositionInput, start: PositionLifecycle, p: PatchCheck): Promise<PositionReport> {
  let lc = start;
  const pending: JournalWrite[] = [...(input.pendingJournal ?? [])];
  let report: PositionReport | null = input.report ?? null;
  let closeReason: CloseReason | null = null;
  let wake = false;

  setHandler(positionStateQuery, () => ({ ...input, state: lc }));
  // Accepted in every stage: entering (honoured once the entry's exposure is known), open, exiting.
  setHandler(closePositionSignal, ({ reason }) => {
    closeReason ??= reason;
    wake = true;
  });
  const stream = streamWatch(input, p, () => lc, () => {
    const { state, armed } = armStreamExit(lc);
    lc = state;
    return armed;
  });
  setHandler(exitCrossedSignal, (crossing) => {
    // A report of a sent exit is never replaced by a later plain crossing.
    if (!stream.crossing?.armed || crossing.armed) stream.crossing = crossing;
    wake = true;
  });
  setHandler(exitWatchResetSignal, () => {
    stream.registeredAt = null;
    wake = true;
  });

  // Nothing is journaled before the stop is settled: protection never waits for Postgres.
  const pump = startJournalPump(pending, () => lc.stage !== 'ENTERING' && lc.stage !== 'PROTECTING' && lc.stage !== 'ADOPTING');
  // The lifecycle compares the clock with its deadlines: the time comes from history (workflows/clock.ts).
  let now = Date.now();
  const absorb = async (fact: LifecycleFact): Promise<LifecycleCommand> => {
    now = await trustedNow();
    const checkEveryMs = stream.streaming ? STREAMED_POLL_MS : input.params.positionCheckSeconds * 1000;
    const out = step(lc, fact, { now, rules: positionRules(input.params, input.exits), checkEveryMs });
    lc = out.state;
    pending.push(...out.journal.map((w) => withEntrySignal(w, input.entrySignal)));
    if (out.notices.length > 0) {
      await notices.notifyPosition({ positionId: input.positionId, notices: out.notices }).catch((err) => log.warn('notice not delivered', { error: failureText(err) }));
    }
    return out.command;
  };
  const closePending = () => closeReason !== null && lc.closeRequest === null && lc.stage !== 'CLOSED';
  const sleepUntil = async (until: number) => {
    wake = false;
    await condition(() => wake, Math.max(1, Math.min(until, stream.nextKeepAt()) - Date.now()));
  };

  const runIsLong = runEndsAtEventLimit();
  let command = await absorb({ kind: 'WOKE' });
  for (let steps = 0; ; steps++) {
    if (closePending()) command = await absorb({ kind: 'CLOSE_REQUESTED', reason: closeReason! });
    const crossing = stream.takeCrossing();
    if (crossing) command = await absorb(crossing);
    if (await stream.keep(now) === 'LOST') command = await absorb({ kind: 'STREAM_LOST' });
    if (lc.result && !report) {
      const armedUntil = stream.armedUntil();
      report = { positionId: input.positionId, ...lc.result, venueTime: lc.result.venueTime ?? now, at: now, ...(armedUntil !== null ? { armedUntil } : {}) };
      // Histories from before the position released its own reservation left that to the symbol loop.
      if (p(RELEASES_OWN_RESERVATION)) report.released = await releaseReservation(report);
      await tellSymbolWorkflow(input, report);
    }
    describe(input, lc);
    if (command.kind === 'DONE') break;
    if (steps >= MAX_STEPS_PER_RUN || runIsLong() || workflowInfo().continueAsNewSuggested) {
      await condition(() => !pump.busy && allHandlersFinished());
      if (!closePending()) await makeContinueAsNewFunc<typeof positionWorkflow>({ workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT })({ ...input, state: lc, pendingJournal: pending, report });
      continue;
    }
    command = await absorb(await run(command, input, sleepUntil, () => stream.takeCrossing() ?? { kind: 'WOKE' }));
  }
  await stream.keep(now);
  // The outcome is reported; the books are complete once Postgres has taken every write.
  await condition(() => pending.length === 0 && !pump.busy);
  return report!;
}

interface StreamWatch {
  /** The worker's stream watches the exit levels: slow polling. */
  streaming: boolean;
  /** A crossed level reported by the stream, not yet fed to the lifecycle. */
  crossing: ExitCrossing | null;
  /** The crossing as the lifecycle's fact, once. */
  takeCrossing(): LifecycleFact | null;
  /** When the watch was last registered (null: register at the next step). */
  registeredAt: number | null;
  /** Register, refresh or drop the watch as the lifecycle's stage needs; 'LOST' when the stream stopped covering it. */
  keep(now: number): Promise<'LOST' | null>;
  /** When `keep` has something to do next (an armed registration's refresh), or Infinity. */
  nextKeepAt(): number;
  /** Until when a watch may still send this position's armed exit (null: never armed). */
  armedUntil(): number | null;
}

/**
 * The position's exit watch in the worker: registered once OPEN, refreshed every slow poll (so a restarted
 * worker, or another one, learns it again) and when the worker asks, dropped when the position leaves OPEN.
 * With armed exits, registered again at once whenever what the watch may send changes (armed, disarmed).
 */
function streamWatch(input: PositionInput, p: PatchCheck, lifecycle: () => PositionLifecycle, arm: () => ArmedExit | null): StreamWatch {
  const enabled = p(EXITS_ON_STREAM);
  const arming = enabled && p(ARMED_STREAM_EXITS);
  let registered = false;
  let registeredArm = '';
  let lastArmedAt: number | null = null;
  const w: StreamWatch = {
    streaming: false,
    crossing: null,
    takeCrossing() {
      const c = w.crossing;
      w.crossing = null;
      if (!c) return null;
      return c.armed
        ? { kind: 'STREAM_EXIT', clientOrderId: c.armed.clientOrderId, reason: c.armed.reason, price: c.price, bestPrice: c.bestPrice }
        : { kind: 'STREAM_MARK', price: c.price, bestPrice: c.bestPrice };
    },
    registeredAt: null,
    async keep(now) {
      if (!enabled) return null;
      const lc = lifecycle();
      const tracker = lc.tracker;
      if (lc.stage !== 'OPEN' || !tracker) {
        if (registered) {
          registered = false;
          w.streaming = false;
          await watches.unwatchExits({ positionId: input.positionId }).catch(() => {}); // its time-to-live drops it otherwise
        }
        return null;
      }
      const armed = arming ? arm() : null;
      const armKey = armed ? `${armed.clientOrderId}|${armed.quantity}` : '';
      // An armed watch lapses unless registered again within its lease (LIFECYCLE_TIMING.armedLeaseMs).
      const refreshEvery = armed ? LIFECYCLE_TIMING.armedRefreshMs : STREAMED_POLL_MS;
      if (w.registeredAt !== null && now - w.registeredAt < refreshEvery && armKey === registeredArm) return null;
      const req: ExitWatchRequest = {
        positionId: input.positionId,
        workflowId: workflowInfo().workflowId,
        symbol: input.symbol,
        side: input.side,
        entryPrice: tracker.entryPrice,
        openedAt: tracker.openedAt,
        bestPrice: tracker.bestPrice,
        rules: positionRules(input.params, input.exits),
        ...(armed ? { armedExit: armed } : {}),
      };
      const was = w.streaming;
      w.streaming = (await watches.watchExits(req).catch(() => ({ streaming: false }))).streaming;
      registered = true;
      registeredArm = armKey;
      w.registeredAt = now;
      if (armed) lastArmedAt = now;
      return was && !w.streaming ? 'LOST' : null;
    },
    nextKeepAt() {
      return registered && registeredArm !== '' && w.registeredAt !== null ? w.registeredAt + LIFECYCLE_TIMING.armedRefreshMs : Infinity;
    },
    armedUntil() {
      return lastArmedAt === null ? null : lastArmedAt + LIFECYCLE_TIMING.armedLeaseMs + LIFECYCLE_TIMING.armedMarginMs;
    },
  };
  return w;
}

/** Runs one command as an activity and turns its answer, or its failure, into the next fact. */
async function run(c: LifecycleCommand, input: PositionInput, sleepUntil: (t: number) => Promise<void>, woke: () => LifecycleFact): Promise<LifecycleFact> {
  const { symbol, side } = input;
  const why = (err: unknown) => failureText(err);
  switch (c.kind) {
    case 'SEND_ENTRY':
    case 'SEND_EXIT': {
      const sent =
        c.kind === 'SEND_ENTRY'
          ? orders.submitEntry({ symbol, side, notional: c.notional, leverage: input.params.leverage, clientOrderId: c.clientOrderId, sendBefore: c.sendBefore })
          : orders.submitExit({ symbol, side, clientOrderId: c.clientOrderId, sendBefore: c.sendBefore, quantity: c.quantity });
      // The activity failing (timeout, worker gone) says nothing about the order: its outcome is unknown.
      const answer = await sent.catch((err) => ({ outcome: 'UNKNOWN' as const, reason: why(err) }));
      return { kind: 'ORDER_ANSWER', clientOrderId: c.clientOrderId, answer };
    }
    case 'LOOKUP':
      return reads.lookupOrders({ symbol, clientOrderIds: c.clientOrderIds }).then(
        (r): LifecycleFact => ({ kind: 'ORDERS_SEEN', at: r.at, orders: r.orders }),
        (err): LifecycleFact => ({ kind: 'LOOKUP_FAILED', clientOrderIds: c.clientOrderIds, reason: why(err) }),
      );
    case 'CANCEL_ORDER':
      return { kind: 'CANCEL_ANSWER', clientOrderId: c.clientOrderId, order: await reads.cancelOpenOrder({ symbol, clientOrderId: c.clientOrderId }).catch(() => null) };
    case 'PLACE_STOP': {
      const answer = await stops
        .placeStop({ symbol, side, triggerPrice: c.triggerPrice, clientAlgoId: c.clientAlgoId, sendBefore: c.sendBefore })
        .catch((err) => ({ outcome: 'FAILED' as const, reason: why(err) }));
      return { kind: 'STOP_ANSWER', answer };
    }
    case 'CANCEL_STOP': {
      const r = await reads.cancelStop({ symbol, clientAlgoId: c.clientAlgoId }).catch((err) => ({ outcome: 'FAILED' as const, actualOrderId: null, reason: why(err) }));
      return { kind: 'STOP_CANCELLED', ...r };
    }
    case 'READ':
      return reads.readExchangePosition({ symbol, after: c.after }).then(
        (reading): LifecycleFact => ({ kind: 'READING', reading }),
        (err): LifecycleFact => ({ kind: 'READ_FAILED', reason: why(err) }),
      );
    case 'GATHER_EVIDENCE':
      return reads.gatherCloseEvidence({ symbol, side, clientAlgoId: c.clientAlgoId, since: c.since }).then(
        (evidence): LifecycleFact => ({ kind: 'EVIDENCE', evidence }),
        (err): LifecycleFact => ({ kind: 'EVIDENCE_FAILED', reason: why(err) }),
      );
    case 'FETCH_FILLS':
      return reads.fetchFills({ symbol, orderId: c.orderId }).then(
        (fills): LifecycleFact => ({ kind: 'FILLS', clientOrderId: c.clientOrderId, fills }),
        (err): LifecycleFact => ({ kind: 'FILLS_FAILED', clientOrderId: c.clientOrderId, reason: why(err) }),
      );
    case 'WAIT':
    case 'DONE':
      // A close request ends the wait at once; a crossed level from the stream is the fact it woke to.
      if (c.kind === 'WAIT') await sleepUntil(c.until);
      return woke();
  }
}

/**
 * Hands journal writes to Postgres in order, concurrently with the lifecycle, while `allowed()`. A write
 * that fails stays at the head of the queue and is retried with backoff: an outage delays the books,
 * never an order, and loses nothing (the writes are keyed, so a batch applied twice changes nothing).
 */
function startJournalPump(queue: JournalWrite[], allowed: () => boolean): { busy: boolean } {
  const pump = { busy: false };
  void (async () => {
    for (let failures = 0; ; ) {
      await condition(() => queue.length > 0 && allowed());
      pump.busy = true;
      const batch = queue.slice(0, JOURNAL_BATCH);
      try {
        await journal.applyJournalWrites({ writes: batch });
        queue.splice(0, batch.length);
        failures = 0;
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 10 === 0) log.warn('journal unavailable; writes kept until it is back', { pending: queue.length, error: failureText(err) });
      } finally {
        pump.busy = false;
      }
      if (failures > 0) await condition(() => false, Math.min(30_000, 1_000 * 2 ** Math.min(failures - 1, 5)));
    }
  })();
  return pump;
}

/**
 * The position knows it is closed: it gives its capacity and P&L back to the risk book itself, before its
 * report, so the symbol loop sends nothing for it (see REPORTS_BETWEEN_PASSES in workflows/symbol.ts).
 * False when the book could not be told; the loop then releases it.
 */
async function releaseReservation(r: PositionReport): Promise<boolean> {
  try {
    await getExternalWorkflowHandle(riskBookWorkflowId(workflowInfo().taskQueue)).signal(releaseSignal, { positionId: r.positionId, netPnl: r.netPnl, venueTime: r.venueTime });
    return true;
  } catch (err) {
    log.warn('risk book not reachable; the symbol loop releases the reservation', { positionId: r.positionId, error: failureText(err) });
    return false;
  }
}

async function tellSymbolWorkflow(input: PositionInput, r: PositionReport): Promise<void> {
  try {
    await getExternalWorkflowHandle(input.parentWorkflowId).signal(positionClosedSignal, r);
  } catch (err) {
    // The symbol workflow is gone (terminated by an operator); the journal still gets the outcome.
    log.warn('could not report exit to symbol workflow', { positionId: input.positionId, error: String(err) });
  }
}

function describe(input: PositionInput, s: PositionLifecycle): void {
  setCurrentDetails(
    `**${input.side} ${input.symbol}** ${s.stage} | qty ${s.quantity} @ ${s.entryPrice || '-'} | mark ${s.lastMark ?? '-'}` +
      (s.stopPrice !== null && s.takeProfitPrice !== null ? ` | TP ${s.takeProfitPrice.toPrecision(6)} SL ${s.stopPrice.toPrecision(6)} (stop ${s.protection.status})` : '') +
      (s.result ? ` | ${s.result.exitReason ?? s.result.outcome} net ${s.result.netPnl.toFixed(4)}` : ''),
  );
}

/** The position's journal row carries the model version and candle of the signal that opened it (absent when adopted). */
function withEntrySignal(w: JournalWrite, signal: PositionInput['entrySignal']): JournalWrite {
  if (w.kind !== 'entry' || !signal) return w;
  // A scripted signal scores no candle (time 0): no candle to refer to.
  return { ...w, entry: { ...w.entry, modelVersion: signal.model, entryCandleTime: signal.candleTime > 0 ? signal.candleTime : null } };
}
