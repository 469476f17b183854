import {
  ParentClosePolicy,
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
  startChild,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { type LoopState, positionClosed, tick as loopTick } from '../core/loop.js';
import { applyParamChanges, type TradingParams } from '../core/params.js';
import { entryExitDistances } from '../core/exits.js';
import { orderStemOf, positionIdOf } from '../core/position-ids.js';
import type { PositionSide, ScoredSignal } from '../core/types.js';
import type { DecisionRecord, LivePosition, TradingActivities } from '../activities/contracts.js';
import { releaseSignal, riskBookWorkflowId } from './book-contracts.js';
import {
  POSITION_PRIORITY,
  WORKFLOW_TASK_TIMEOUT,
  closePositionSignal,
  configUpdate,
  killSignal,
  marketWakeSignal,
  positionClosedSignal,
  positionWorkflowId,
  reclaimSignal,
  resumeSignal,
  symbolStateQuery,
  type PositionInput,
  type PositionReport,
  type SymbolPhase,
  type SymbolState,
  type SymbolWorkflowInput,
} from './contracts.js';
import { TRUSTED_CLOCK_PATCH, trustedNow } from './clock.js';
import { failureText } from './failure-text.js';
import { positionWorkflow } from './position.js';
import { MAX_EVENTS_PER_LOOP_RUN, runEndsAtEventLimit } from './run-length.js';
import { runPatches, type PatchCheck } from './run-patches.js';
import { SA_CONFIDENCE, SA_SIDE, SA_SIGNAL, SA_STATE, SA_SYMBOL } from './search-attributes.js';

const DEFAULT_TICK_CAP = 2_000;

const TICK_RETRY = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 } as const;
const remoteActs = proxyActivities<TradingActivities>({ startToCloseTimeout: '20s', retry: TICK_RETRY });
/**
 * The tick's activities (market data + inference, risk read, journal) are short, read-mostly and
 * idempotent, so they run as local activities: one marker event each instead of a server round
 * trip through a task queue, which is what lets one dev server carry hundreds of symbols.
 */
const localActs = proxyLocalActivities<TradingActivities>({ startToCloseTimeout: '20s', retry: TICK_RETRY });
/** Histories from before local tick activities replay with the regular ones they recorded. */
const LOCAL_TICK_ACTIVITIES = 'local-tick-activities';
const acts = (p: PatchCheck): TradingActivities => (p(LOCAL_TICK_ACTIVITIES) ? localActs : remoteActs);
/** Buffered decisions are tried once per tick: the buffer, not a retry loop, waits for the journal. */
const journalOnce = proxyLocalActivities<TradingActivities>({ startToCloseTimeout: '20s', retry: { maximumAttempts: 1 } });
/**
 * Reserving waits for the risk book's workflow task, and looking for the live position waits a moment
 * between two looks: regular activities, so the loop's workflow task is not held open meanwhile (a
 * fleet entering at once would otherwise hold every workflow task slot while the book waits for one). They
 * heartbeat every second, so one whose worker was killed is retried on another within 2 s instead of at the
 * timeout (with 5 s, a kill right after `qt resume`, with every loop reserving, kept the loops from their next
 * pass until 5.6 s after the new worker was up). Both are safe to run twice: a reservation is an update with the
 * attempt's id, the look only reads.
 */
const bookActs = proxyActivities<TradingActivities>({ startToCloseTimeout: '30s', heartbeatTimeout: '2s', retry: TICK_RETRY });
/** A flatten without a position workflow sends an order: heartbeats, and retries that find it by its id. */
const flattenActs = proxyActivities<TradingActivities>({
  startToCloseTimeout: '60s',
  heartbeatTimeout: '5s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

/**
 * Behaviour added while loops were running, each behind its own patch so histories recorded before it
 * replay unchanged: entries reserve capacity in the risk book (and release it on the report) instead of
 * the journal-based check; decisions are buffered while the journal is down; a loop started afresh
 * first finds the live position on its symbol; a kill --flatten whose position workflow is gone
 * flattens the exchange directly.
 */
const RISK_BOOK = 'risk-book-reservations';
const DECISION_BUFFER = 'decision-buffer';
const CLAIM_OWNERSHIP = 'claim-ownership-at-start';
const FLATTEN_DIRECT = 'flatten-without-position-workflow';
// A loop leaves exposure nobody owns to reconciliation when QT_ORPHAN_POLICY=flatten, instead of adopting it.
const ORPHAN_POLICY_IN_LOOP = 'orphan-policy-in-loop';
/**
 * A position's report is taken in at the top of the loop's next pass instead of in the signal handler, and
 * the loop releases only what the position did not release itself.
 *
 * Why: with @temporalio/worker 1.24.0 a local activity's result can reach the workflow one workflow task after
 * its marker was written to history (the result arrives while the worker is reporting a heartbeat of a long
 * workflow task), together with a signal received meanwhile; a replay delivers that result one task earlier,
 * before the signal. Whatever the loop does between the result and its next wait must therefore not depend on
 * what a signal changed. A report applied in its handler did: the loop's clock read resolved, then the release
 * the report had queued went out at once live, but not on replay (a nondeterminism error on
 * SignalExternalWorkflowExecutionInitiated that stopped loops in the chaos runs), and the tick's decision
 * read the open position the report had cleared. A report taken in between passes is seen by both at the same
 * point, and a position that releases its own reservation leaves the loop nothing to send for it.
 */
const REPORTS_BETWEEN_PASSES = 'position-reports-between-passes';
/**
 * The wake flags (wake, market wake, flatten request) are taken at the top of a pass, before its first local
 * activity, instead of after its clock read or its tick.
 *
 * Why: the same defect as above. A market wake that arrived while the loop's clock read ran reached the workflow
 * before the clock's result live (the result came one task late) and after it on replay; the flag, cleared
 * after the clock read, was then cleared live but still set on replay, so the replay skipped the timer the live
 * run had started (a chaos run stopped a loop on "No command scheduled for event TimerStarted"). Taken before
 * the pass's first local activity, the flags are read at a point that both see alike, and a wake arriving while
 * the pass runs gives the loop one more pass instead of being dropped.
 */
const WAKES_AT_TOP = 'wakes-taken-at-top-of-pass';
/**
 * The patches a pass checks only after a local activity's result (local tick activities, after the clock read;
 * the risk book and the decision buffer, after the signal; the orphan policy and the direct flatten, after
 * activities too) are decided at the start of each run instead (workflows/run-patches.ts says why; the chaos run
 * stopped a loop on "Non-deprecated patch marker encountered for change local-tick-activities" in the first pass
 * of a new run right after a worker restart).
 */
/**
 * A pass with nothing to do but the tick is one local activity (`evaluatePass`: clock, signal, decision, journal)
 * instead of three; runs recorded before keep three.
 */
const ONE_ACTIVITY_PASS = 'one-activity-per-quiet-pass';
/**
 * A quiet pass's entry that the risk book's published copy refuses (the book is full, killed, past its daily loss)
 * is refused in the pass's local activity, without a reservation: a full book no longer takes a request per pass
 * from every loop with a signal (activities/book-copy.ts says what that cost).
 */
const REFUSALS_FROM_BOOK_COPY = 'entry-refusals-from-book-copy';
const PATCHES_AT_RUN_START = [LOCAL_TICK_ACTIVITIES, RISK_BOOK, DECISION_BUFFER, ORPHAN_POLICY_IN_LOOP, FLATTEN_DIRECT, ONE_ACTIVITY_PASS, REFUSALS_FROM_BOOK_COPY];

/** Decisions kept while the journal is unreachable (about two hours of 15 s ticks); older ones are dropped and counted. */
export const MAX_PENDING_DECISIONS = 500;
/** Decisions written per journal call when catching up. */
const DECISION_BATCH = 100;

function initialState(input: SymbolWorkflowInput): SymbolState {
  return {
    symbol: input.symbol,
    instanceId: uuid4().replace(/-/g, '').slice(0, 8),
    params: input.params,
    flags: input.flags,
    killed: false,
    killReason: null,
    cooldownUntil: 0,
    openPositionId: null,
    openPositionSide: null,
    positionSeq: 0,
    tickSeq: 0,
    lastSignal: null,
    lastDecision: null,
    lastExit: null,
    runsSoFar: 0,
    ownershipChecked: true,
    pendingDecisions: [],
    droppedDecisions: 0,
    unreportedDrops: 0,
    pendingReleases: [],
    flattenSeq: 0,
  };
}

function phaseOf(s: SymbolState, now: number): SymbolPhase {
  if (s.openPositionId) return 'IN_POSITION';
  if (s.killed) return 'KILLED';
  if (now < s.cooldownUntil) return 'COOLDOWN';
  return 'SCANNING';
}

/**
 * One per symbol, forever: every check interval, score the market, decide, check risk and start a
 * position child. All state lives in `state`, which continue-as-new carries to the next run.
 */
export async function symbolWorkflow(input: SymbolWorkflowInput): Promise<void> {
  const state: SymbolState = input.state ? { ...input.state, runsSoFar: input.state.runsSoFar + 1 } : initialState(input);
  // A loop started afresh (first start, or again after a terminate) must find the live position on its
  // symbol before it may enter: an old run's position workflow, or exposure nobody owns.
  if (!input.state && patched(CLAIM_OWNERSHIP)) state.ownershipChecked = false;
  const tickCap = input.tickCap ?? DEFAULT_TICK_CAP;
  const runIsLong = runEndsAtEventLimit(MAX_EVENTS_PER_LOOP_RUN);
  const wakesAtTop = patched(WAKES_AT_TOP);
  const p = runPatches(PATCHES_AT_RUN_START);
  const quietPasses = p(ONE_ACTIVITY_PASS) && wakesAtTop;
  let wake = false;
  /**
   * A market wake (event-driven mode) since the last evaluation began: cleared at the top of a pass, not
   * after it, so a candle that closes while a pass runs gets a pass of its own.
   */
  let marketWake = false;
  /** Wakes that arrived while one was already owed: history events without a pass of their own. */
  let coalescedWakes = 0;
  let flattenRequested = false;
  /** A flatten that could not be done yet: tried again at each tick (not at once, unlike a new request). */
  let flattenPending = false;

  setHandler(symbolStateQuery, () => ({ ...state, phase: phaseOf(state, Date.now()) }));
  setHandler(killSignal, ({ flatten, reason }) => {
    state.killed = true;
    state.killReason = reason;
    flattenRequested ||= flatten;
    wake = true;
  });
  // A wake only makes the loop evaluate now: cooldown, kill and an open position are core/loop.ts's to judge.
  // Histories recorded before this signal existed contain none, so they replay unchanged.
  setHandler(marketWakeSignal, () => {
    if (marketWake) coalescedWakes++;
    marketWake = true;
  });
  setHandler(resumeSignal, () => {
    state.killed = false;
    state.killReason = null;
    wake = true;
  });
  const reportsBetweenPasses = patched(REPORTS_BETWEEN_PASSES);
  setHandler(positionClosedSignal, (report) => {
    // A stale or duplicate report does not wake the loop.
    if (report.positionId === state.openPositionId) wake = true;
    if (reportsBetweenPasses) (state.positionReports ??= []).push(report);
    else takeReport(state, report);
  });
  setHandler(reclaimSignal, ({ stalePositionId, reason }) => {
    log.warn('reconciliation: ownership of the symbol to be checked again', { symbol: state.symbol, stalePositionId, reason });
    if (stalePositionId !== null && state.openPositionId === stalePositionId) {
      // Its workflow is gone without a report: treat it as an exit (reconciliation settles its books).
      state.openPositionId = null;
      state.openPositionSide = null;
      state.cooldownUntil = Math.max(state.cooldownUntil, timeOf(state) + state.params.cooldownSeconds * 1000);
    }
    state.ownershipChecked = false;
    wake = true;
  });
  setHandler(
    configUpdate,
    (change) => {
      state.params = applyParamChanges(state.params, change.params ?? {});
      state.flags = { ...state.flags, ...change.flags };
      wake = true;
      return { params: state.params, flags: state.flags };
    },
    { validator: (change) => void applyParamChanges(state.params, change.params ?? {}) },
  );

  upsertSearchAttributes([{ key: SA_SYMBOL, value: state.symbol }]);
  const published: Published = { key: null };
  publish(state, published);

  // Ticks keep a fixed cadence (due times one interval apart) instead of drifting by the tick's
  // own duration; an overloaded worker skips ahead rather than bursting to catch up.
  let dueAt = Date.now();
  for (let ticks = 0; ; ticks++) {
    if (ticks + coalescedWakes >= tickCap || runIsLong() || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await makeContinueAsNewFunc<typeof symbolWorkflow>({ workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT })({ symbol: state.symbol, params: state.params, flags: state.flags, tickCap: input.tickCap, state });
    }
    let flattenNow = false;
    if (wakesAtTop) [wake, marketWake, flattenNow, flattenRequested] = [false, false, flattenRequested, false];
    for (const report of state.positionReports?.splice(0) ?? []) takeReport(state, report);
    if (quietPasses && isQuiet(state, flattenNow || flattenPending)) {
      await quietPass(state, dueAt, p);
    } else {
      state.clock = await trustedNow();
      await deliverReleases(state, p);
      if (!wakesAtTop) [flattenNow, flattenRequested] = [flattenRequested, false];
      if (flattenNow || flattenPending) flattenPending = !(await flattenOpenPosition(state, p));
      if (state.ownershipChecked === false) await claimOwnership(state, p);
      if (!wakesAtTop) marketWake = false;
      await tick(state, dueAt, p);
    }
    publish(state, published);
    if (!wakesAtTop) wake = false;
    dueAt = Math.max(dueAt + state.params.checkIntervalSeconds * 1000, Date.now());
    const woken = await condition(() => wake || marketWake || flattenRequested, Math.max(1, dueAt - Date.now()));
    if (woken) dueAt = Date.now();
  }
}

/**
 * Nothing for a pass to do before its tick: no flatten, no release to deliver, ownership known, no decision or drop
 * count waiting for the journal (the journal's catching up stays with `journalDecision`).
 */
function isQuiet(state: SymbolState, flattening: boolean): boolean {
  return !flattening && state.ownershipChecked !== false && !state.pendingReleases?.length && !state.pendingDecisions?.length && !state.unreportedDrops;
}

/** A pass's signal, scored by `evaluatePass` together with the decision it journaled (activities/pass.ts). */
interface Evaluated {
  signal: ScoredSignal;
  journaled: boolean;
  /** The entry decided on is refused by the risk book's published copy. */
  refused?: { rule: string; detail: string };
  /** What the decision was taken on: the loop as the pass began, not as signals changed it meanwhile. */
  loop: LoopState;
  params: TradingParams;
}

/**
 * A quiet pass in one local activity: its clock, signal, decision and journal row. The workflow takes the decision
 * again from the same inputs; an entry goes on from here as in any pass (the risk book, then the position).
 */
async function quietPass(state: SymbolState, dueAt: number, p: PatchCheck): Promise<void> {
  const { workflowId, runId, historyLength } = workflowInfo();
  const loop = loopStateOf(state);
  const params = state.params;
  const record = { workflowId, symbol: state.symbol, seq: state.tickSeq + 1, instanceId: state.instanceId, runId, taskEvent: historyLength };
  const refuseFromBookCopy = p(RISK_BOOK) && p(REFUSALS_FROM_BOOK_COPY);
  let pass;
  try {
    pass = await localActs.evaluatePass({ symbol: state.symbol, dueAt, loop, params, record, ...(refuseFromBookCopy ? { refuseFromBookCopy } : {}) });
  } catch (err) {
    state.clock = await trustedNow();
    state.tickSeq++;
    noSignal(state, err);
    return;
  }
  state.clock = pass.now;
  await tick(state, dueAt, p, { signal: pass.signal, journaled: pass.journaled, loop, params, ...(refuseFromBookCopy && pass.refused ? { refused: pass.refused } : {}) });
}

/** No market data or no model this pass: nothing can be traded; try again next interval. */
function noSignal(state: SymbolState, err: unknown): void {
  state.lastDecision = `NO_SIGNAL: ${failureText(err)}`;
  log.warn('signal evaluation failed', { symbol: state.symbol, error: failureText(err) });
}

async function tick(state: SymbolState, dueAt: number, p: PatchCheck, evaluated?: Evaluated): Promise<void> {
  const seq = ++state.tickSeq;
  const workflowId = workflowInfo().workflowId;
  let signal: ScoredSignal;
  if (evaluated) {
    signal = evaluated.signal;
  } else {
    try {
      signal = await acts(p).evaluateSignal({ workflowId, symbol: state.symbol, dueAt });
    } catch (err) {
      noSignal(state, err);
      return;
    }
  }
  state.lastSignal = { signal: signal.signal, confidence: signal.confidence, candleTime: signal.candleTime, at: timeOf(state), model: signal.model, ...(signal.atrNorm !== undefined ? { atrNorm: signal.atrNorm } : {}) };

  const command = loopTick(evaluated?.loop ?? loopStateOf(state), { signal, params: evaluated?.params ?? state.params }, timeOf(state)).commands[0]!;
  let outcome: string;
  let reason: string;
  if (command.kind === 'JOURNAL_DECISION') {
    ({ outcome, reason } = command);
    if (evaluated?.journaled) {
      state.lastDecision = outcome;
      return;
    }
  } else if (evaluated?.refused) {
    outcome = 'RISK_REJECTED';
    reason = `${evaluated.refused.rule}: ${evaluated.refused.detail}`;
    if (evaluated.journaled) {
      state.lastDecision = outcome;
      return;
    }
  } else {
    reason = `${command.side} notional ${command.notional.toFixed(2)}`;
    ({ outcome, reason } = p(RISK_BOOK)
      ? await enterThroughRiskBook(state, command.side, command.notional, command.confidence, seq, reason)
      : await enterAfterJournalCheck(state, command.side, command.notional, command.confidence, reason, p));
  }
  state.lastDecision = outcome;
  const record: DecisionRecord = { workflowId, symbol: state.symbol, seq, signal, decision: outcome, reason };
  if (p(DECISION_BUFFER)) await journalDecision(state, { ...record, instanceId: state.instanceId, runId: workflowInfo().runId, at: timeOf(state), taskEvent: workflowInfo().historyLength });
  else await acts(p).journalDecision(record);
}

/**
 * Whatever this loop thinks, the reported position is closed: its capacity and P&L go back to the risk book
 * (at the next pass) unless the position gave them back itself.
 */
function takeReport(state: SymbolState, report: PositionReport): void {
  if (!report.released) (state.pendingReleases ??= []).push({ positionId: report.positionId, netPnl: report.netPnl, venueTime: report.venueTime ?? null });
  if (report.positionId !== state.openPositionId) return; // a stale or duplicate report
  state.openPositionId = null;
  state.openPositionSide = null;
  state.cooldownUntil = Math.max(positionClosed(loopStateOf(state), report.at, state.params).cooldownUntil, report.armedUntil ?? 0);
  state.lastExit = { positionId: report.positionId, reason: report.exitReason ?? 'ENTRY_FAILED', netPnl: report.netPnl, at: report.at };
}

/** What core/loop.ts needs of the workflow's state. */
function loopStateOf(state: SymbolState): LoopState {
  return { killed: state.killed, aiTradingEnabled: state.flags.aiTradingEnabled, hasOpenPosition: state.openPositionId !== null, cooldownUntil: state.cooldownUntil };
}

type Verdict = { outcome: string; reason: string };

/** Histories recorded before the risk book: the journal-based check they called. */
async function enterAfterJournalCheck(state: SymbolState, side: PositionSide, notional: number, confidence: number, reason: string, p: PatchCheck): Promise<Verdict> {
  const verdict = await acts(p).checkEntryRisk({ symbol: state.symbol, notional, leverage: state.params.leverage });
  if (!verdict.approved) return { outcome: 'RISK_REJECTED', reason: `${verdict.rule}: ${verdict.detail}` };
  if (state.killed) return { outcome: 'KILLED', reason }; // a kill arrived while risk was being checked
  if (!state.flags.executionEnabled) return { outcome: 'WOULD_TRADE', reason };
  await openPosition(state, side, notional, confidence);
  return { outcome: 'ENTER', reason };
}

/**
 * Reserve capacity in the risk book before any order (serialized across symbols), enter, and give
 * the capacity back if the entry does not happen. Any failure refuses the entry: fail closed.
 */
async function enterThroughRiskBook(state: SymbolState, side: PositionSide, notional: number, confidence: number, tickSeq: number, reason: string): Promise<Verdict> {
  if (state.ownershipChecked === false) return { outcome: 'OWNERSHIP_UNKNOWN', reason: 'the live position on this symbol is not confirmed yet' };
  const positionId = nextPositionId(state);
  const dryRun = !state.flags.executionEnabled;
  let verdict;
  try {
    verdict = await bookActs.reserveEntry({ positionId, symbol: state.symbol, notional, leverage: state.params.leverage, attemptKey: `${workflowInfo().runId}-${tickSeq}`, dryRun });
  } catch (err) {
    // The answer may have been lost after the book reserved: give back whatever was reserved under
    // this id, and never use the id again (a released id is not counted twice).
    if (!dryRun) releaseUnused(state, positionId);
    return { outcome: 'RISK_UNAVAILABLE', reason: failureText(err) };
  }
  if (!verdict.approved) {
    if (verdict.rule === 'UNOWNED_EXPOSURE') state.ownershipChecked = false; // adopt it on the next pass
    return { outcome: 'RISK_REJECTED', reason: `${verdict.rule}: ${verdict.detail}` };
  }
  if (dryRun) return { outcome: 'WOULD_TRADE', reason };
  if (state.killed) {
    releaseUnused(state, positionId); // a kill arrived while the reservation was made
    return { outcome: 'KILLED', reason };
  }
  const failure = await startedOrWhyNot(() => openPosition(state, side, notional, confidence));
  if (failure) {
    (state.pendingReleases ??= []).push({ positionId, netPnl: 0 });
    return { outcome: 'ENTRY_NOT_STARTED', reason: failure };
  }
  return { outcome: 'ENTER', reason };
}

/**
 * A position workflow that cannot be started (its id already taken, e.g. by a run from before a reset)
 * must not fail the loop: the loop forgets it, re-reads ownership (a running workflow of that id is
 * then owned) and returns the reason.
 */
async function startedOrWhyNot(start: () => Promise<void>): Promise<string | null> {
  try {
    await start();
    return null;
  } catch (err) {
    log.error('position workflow not started', { error: failureText(err) });
    return failureText(err);
  }
}

const nextPositionId = (state: SymbolState): string => positionIdOf(state.symbol, `${state.instanceId}-${state.positionSeq + 1}`);

function releaseUnused(state: SymbolState, positionId: string): void {
  state.positionSeq++;
  (state.pendingReleases ??= []).push({ positionId, netPnl: 0 });
}

/** Give the risk book back the capacity of closed and unused positions (signals: durable, in order). */
async function deliverReleases(state: SymbolState, p: PatchCheck): Promise<void> {
  if (!state.pendingReleases?.length || !p(RISK_BOOK)) return;
  const book = getExternalWorkflowHandle(riskBookWorkflowId(workflowInfo().taskQueue));
  while (state.pendingReleases.length > 0) {
    const release = state.pendingReleases[0]!;
    try {
      await book.signal(releaseSignal, release);
    } catch (err) {
      // No risk book to tell (never started): nothing is reserved there; reconciliation keeps it true.
      log.warn('risk book not reachable; release not delivered', { positionId: release.positionId, error: failureText(err) });
    }
    state.pendingReleases.shift();
  }
}

/**
 * Journal the tick's decision. While Postgres is down the records stay in workflow state (bounded;
 * anything dropped is counted and reported), and are written, oldest first, once it answers. Their
 * key (symbol, run, tick) makes a write that is retried or repeated book nothing twice.
 */
async function journalDecision(state: SymbolState, record: DecisionRecord): Promise<void> {
  const pending = (state.pendingDecisions ??= []);
  pending.push(record);
  const over = pending.length - MAX_PENDING_DECISIONS;
  if (over > 0) {
    pending.splice(0, over);
    state.droppedDecisions = (state.droppedDecisions ?? 0) + over;
    state.unreportedDrops = (state.unreportedDrops ?? 0) + over;
  }
  while (pending.length > 0) {
    const batch = pending.slice(0, DECISION_BATCH);
    try {
      await journalOnce.journalDecisions({ records: batch, dropped: state.unreportedDrops ?? 0 });
    } catch (err) {
      log.warn('journal unavailable; decisions kept until it answers', { symbol: state.symbol, pending: pending.length, error: failureText(err) });
      return;
    }
    pending.splice(0, batch.length);
    state.unreportedDrops = 0;
  }
}

/**
 * Find the live position on this symbol and own it: keep or take over a running position workflow
 * (its reports reach this loop by workflow id), or adopt exposure nobody owns. Until this succeeds
 * the loop enters nothing.
 */
async function claimOwnership(state: SymbolState, p: PatchCheck): Promise<void> {
  let live: LivePosition;
  try {
    live = await bookActs.findLivePosition({ symbol: state.symbol, knownPositionId: state.openPositionId });
  } catch (err) {
    log.warn('could not establish the live position on the symbol; entries wait', { symbol: state.symbol, error: failureText(err) });
    return;
  }
  state.ownershipChecked = true;
  if (live.owner) {
    if (live.owner.positionId !== state.openPositionId) log.info('owning the running position workflow', { symbol: state.symbol, positionId: live.owner.positionId });
    state.openPositionId = live.owner.positionId;
    state.openPositionSide = live.owner.side ?? state.openPositionSide;
    return;
  }
  if (state.openPositionId) {
    // The position workflow this loop knew is gone without a report: treat it as an exit
    // (reconciliation settles its journal row and its reservation).
    state.openPositionId = null;
    state.openPositionSide = null;
    state.cooldownUntil = Math.max(state.cooldownUntil, timeOf(state) + state.params.cooldownSeconds * 1000);
  }
  if (live.exposure && live.orphanPolicy === 'flatten' && p(ORPHAN_POLICY_IN_LOOP)) {
    // The operator wants orphans flattened: reconciliation does that; until the symbol is flat this loop
    // owns nothing and enters nothing (it looks again next pass).
    state.ownershipChecked = false;
    log.warn('exchange exposure without an owner is left to reconciliation (QT_ORPHAN_POLICY=flatten); entries wait', { symbol: state.symbol, positionAmt: live.exposure.positionAmt });
    return;
  }
  if (live.exposure) await adopt(state, live.exposure);
}

/** Start a position workflow that takes over exposure found on the exchange (no entry order). */
async function adopt(state: SymbolState, exposure: NonNullable<LivePosition['exposure']>): Promise<void> {
  const seq = ++state.positionSeq;
  const positionId = positionIdOf(state.symbol, `${state.instanceId}-${seq}`);
  const side: PositionSide = exposure.positionAmt > 0 ? 'LONG' : 'SHORT';
  const quantity = Math.abs(exposure.positionAmt);
  log.warn('adopting exchange exposure without an owner', { symbol: state.symbol, positionId, positionAmt: exposure.positionAmt });
  try {
    await bookActs.reserveEntry({ positionId, symbol: state.symbol, notional: quantity * exposure.markPrice, leverage: state.params.leverage, attemptKey: positionId, adopt: true });
  } catch (err) {
    // Counted by reconciliation later; protecting the exposure comes first.
    log.warn('adopted exposure not yet counted in the risk book', { positionId, error: failureText(err) });
  }
  const failure = await startedOrWhyNot(() =>
    startPositionWorkflow(state, positionId, seq, side, quantity * exposure.entryPrice, 0, {
      quantity,
      entryPrice: exposure.entryPrice,
      reason: 'exposure on the symbol without a position workflow',
    }),
  );
  if (failure) (state.pendingReleases ??= []).push({ positionId, netPnl: 0 });
}

async function openPosition(state: SymbolState, side: 'LONG' | 'SHORT', notional: number, confidence: number): Promise<void> {
  const seq = ++state.positionSeq;
  await startPositionWorkflow(state, positionIdOf(state.symbol, `${state.instanceId}-${seq}`), seq, side, notional, confidence);
}

async function startPositionWorkflow(state: SymbolState, positionId: string, seq: number, side: PositionSide, notional: number, confidence: number, adopt?: PositionInput['adopt']): Promise<void> {
  state.openPositionId = positionId;
  state.openPositionSide = side;
  // The exit distances fixed from the entry's signal, as core/loop.ts checked them before entering.
  const exits = adopt ? null : entryExitDistances(state.params, state.lastSignal?.atrNorm);
  const input: PositionInput = {
    positionId,
    symbol: state.symbol,
    side,
    notional,
    confidence,
    parentWorkflowId: workflowInfo().workflowId,
    params: state.params,
    orderIdStem: `qt-${state.instanceId}-${seq}`,
    ...(adopt ? { adopt } : state.lastSignal ? { entrySignal: { model: state.lastSignal.model, candleTime: state.lastSignal.candleTime } } : {}),
    ...(exits ? { exits } : {}),
  };
  await startChild(positionWorkflow, {
    workflowId: positionWorkflowId(positionId),
    workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
    args: [input],
    // The position must outlive this run: continue-as-new closes the parent run.
    parentClosePolicy: ParentClosePolicy.ABANDON,
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    priority: POSITION_PRIORITY,
    staticSummary: `${adopt ? 'adopted ' : ''}${side} ${state.symbol}`,
  }).catch((err: unknown) => {
    // Not started: this loop holds no position by that id; whoever holds the id is found by the next ownership check.
    state.openPositionId = null;
    state.openPositionSide = null;
    state.ownershipChecked = false;
    throw err;
  });
}

/**
 * Kill with flatten: the position workflow closes its position (even while it is still entering).
 * When that workflow is gone, the exchange is flattened directly (reduce-only MARKET under a
 * deterministic id), never forgotten. Returns false when it must be tried again.
 */
async function flattenOpenPosition(state: SymbolState, p: PatchCheck): Promise<boolean> {
  if (state.openPositionId) {
    try {
      await getExternalWorkflowHandle(positionWorkflowId(state.openPositionId)).signal(closePositionSignal, { reason: 'KILL_FLATTEN' });
      return true;
    } catch (err) {
      log.warn('flatten: position workflow not reachable', { positionId: state.openPositionId, error: failureText(err) });
      if (!p(FLATTEN_DIRECT)) {
        state.openPositionId = null;
        state.openPositionSide = null;
        return true;
      }
    }
  } else if (!p(FLATTEN_DIRECT)) {
    return true;
  }
  return flattenDirectly(state, state.openPositionId);
}

async function flattenDirectly(state: SymbolState, positionId: string | null): Promise<boolean> {
  state.flattenSeq = (state.flattenSeq ?? 0) + 1;
  const clientOrderId = `${orderStemOf(positionIdOf(state.symbol, state.instanceId))}-F${state.flattenSeq}`;
  try {
    const r = await flattenActs.flattenSymbol({ symbol: state.symbol, clientOrderId, positionId, reason: 'KILL_FLATTEN' });
    if (r.flattened) log.warn('flattened on the exchange without a position workflow', { symbol: state.symbol, positionId, detail: r.detail });
    if (positionId) {
      state.openPositionId = null;
      state.openPositionSide = null;
      state.lastExit = { positionId, reason: 'KILL_FLATTEN', netPnl: r.netPnl, at: timeOf(state) };
      state.cooldownUntil = timeOf(state) + state.params.cooldownSeconds * 1000;
      (state.pendingReleases ??= []).push({ positionId, netPnl: r.netPnl, venueTime: r.venueTime });
    }
    return true;
  } catch (err) {
    // The id stays the same for the next try, so an order sent by this attempt is found, not doubled.
    state.flattenSeq--;
    log.error('flatten without a position workflow failed; trying again next tick', { symbol: state.symbol, error: failureText(err) });
    return false;
  }
}

/**
 * The time a decision of this pass is based on: the clock read into history at the top of the pass, or
 * `Date.now()` in histories from before that reading existed (they must replay as they ran).
 */
function timeOf(state: SymbolState): number {
  return state.clock !== undefined && patched(TRUSTED_CLOCK_PATCH) ? state.clock : Date.now();
}

/** Search attribute values last written, so a tick that changes nothing writes nothing. */
interface Published {
  key: string | null;
}

/**
 * Show the loop's state in the Web UI. Search attributes are history events and visibility writes,
 * so they are only written when a value changes (confidence rounded to 0.01); the free-text details
 * are not events and are refreshed every tick.
 */
function publish(state: SymbolState, published: Published): void {
  const phase = phaseOf(state, timeOf(state));
  const confidence = Math.round((state.lastSignal?.confidence ?? 0) * 100) / 100;
  const values = { phase, signal: state.lastSignal?.signal ?? 'NONE', confidence, side: state.openPositionSide ?? 'FLAT' };
  const key = JSON.stringify(values);
  // Histories written before this change upserted the raw confidence on every tick; replaying them must do the same.
  const onChangeOnly = patched('search-attributes-on-change');
  if (!onChangeOnly || key !== published.key) {
    published.key = key;
    upsertSearchAttributes([
      { key: SA_STATE, value: values.phase },
      { key: SA_SIGNAL, value: values.signal },
      { key: SA_CONFIDENCE, value: onChangeOnly ? values.confidence : (state.lastSignal?.confidence ?? 0) },
      { key: SA_SIDE, value: values.side },
    ]);
  }
  const sig = state.lastSignal ? `${state.lastSignal.signal} ${(state.lastSignal.confidence * 100).toFixed(1)}%` : 'no signal yet';
  const extra = state.killed ? ` | killed: ${state.killReason}` : phase === 'COOLDOWN' ? ` | cooldown until ${new Date(state.cooldownUntil).toISOString()}` : '';
  const waiting = state.pendingDecisions?.length ? ` | ${state.pendingDecisions.length} decision(s) waiting for the journal` : '';
  const unowned = state.ownershipChecked === false ? ' | checking ownership of the symbol' : '';
  setCurrentDetails(`**${state.symbol}** ${phase} | last signal ${sig} | decision ${state.lastDecision ?? '-'}${extra}${waiting}${unowned}`);
}
