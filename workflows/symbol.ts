import {
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
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
import { decideEntry } from '../core/decision.js';
import { applyParamChanges } from '../core/params.js';
import type { ScoredSignal } from '../core/types.js';
import type { TradingActivities } from '../activities/contracts.js';
import {
  closePositionSignal,
  configUpdate,
  killSignal,
  positionClosedSignal,
  positionWorkflowId,
  resumeSignal,
  symbolStateQuery,
  type SymbolPhase,
  type SymbolState,
  type SymbolWorkflowInput,
} from './contracts.js';
import { failureText } from './failure-text.js';
import { positionWorkflow } from './position.js';
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
const acts = (): TradingActivities => (patched('local-tick-activities') ? localActs : remoteActs);

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
  const tickCap = input.tickCap ?? DEFAULT_TICK_CAP;
  let wake = false;
  let flattenRequested = false;

  setHandler(symbolStateQuery, () => ({ ...state, phase: phaseOf(state, Date.now()) }));
  setHandler(killSignal, ({ flatten, reason }) => {
    state.killed = true;
    state.killReason = reason;
    flattenRequested ||= flatten;
    wake = true;
  });
  setHandler(resumeSignal, () => {
    state.killed = false;
    state.killReason = null;
    wake = true;
  });
  setHandler(positionClosedSignal, (report) => {
    if (report.positionId !== state.openPositionId) return; // a stale or duplicate report
    state.openPositionId = null;
    state.openPositionSide = null;
    state.cooldownUntil = report.at + state.params.cooldownSeconds * 1000;
    state.lastExit = { positionId: report.positionId, reason: report.exitReason ?? 'ENTRY_FAILED', netPnl: report.netPnl, at: report.at };
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
    if (ticks >= tickCap || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof symbolWorkflow>({ symbol: state.symbol, params: state.params, flags: state.flags, tickCap: input.tickCap, state });
    }
    if (flattenRequested) {
      flattenRequested = false;
      await flattenOpenPosition(state);
    }
    await tick(state, dueAt);
    publish(state, published);
    wake = false;
    dueAt = Math.max(dueAt + state.params.checkIntervalSeconds * 1000, Date.now());
    const woken = await condition(() => wake || flattenRequested, Math.max(1, dueAt - Date.now()));
    if (woken) dueAt = Date.now();
  }
}

async function tick(state: SymbolState, dueAt: number): Promise<void> {
  const seq = ++state.tickSeq;
  const workflowId = workflowInfo().workflowId;
  let signal: ScoredSignal;
  try {
    signal = await acts().evaluateSignal({ workflowId, symbol: state.symbol, dueAt });
  } catch (err) {
    // No market data or no model this tick: nothing can be traded; try again next interval.
    state.lastDecision = `NO_SIGNAL: ${failureText(err)}`;
    log.warn('signal evaluation failed', { symbol: state.symbol, error: failureText(err) });
    return;
  }
  state.lastSignal = { signal: signal.signal, confidence: signal.confidence, candleTime: signal.candleTime, at: Date.now(), model: signal.model };

  const decision = decideEntry(
    signal,
    {
      now: Date.now(),
      killed: state.killed,
      aiTradingEnabled: state.flags.aiTradingEnabled,
      hasOpenPosition: state.openPositionId !== null,
      cooldownUntil: state.cooldownUntil,
    },
    state.params,
  );

  let outcome: string = decision.kind === 'SKIP' ? decision.reason : 'ENTER';
  let reason = decision.kind === 'SKIP' ? (signal.holdReason ?? '') : `${decision.side} notional ${decision.notional.toFixed(2)}`;
  if (decision.kind === 'ENTER') {
    const verdict = await acts().checkEntryRisk({ symbol: state.symbol, notional: decision.notional, leverage: state.params.leverage });
    if (!verdict.approved) {
      outcome = 'RISK_REJECTED';
      reason = `${verdict.rule}: ${verdict.detail}`;
    } else if (state.killed) {
      outcome = 'KILLED'; // a kill arrived while risk was being checked
    } else if (!state.flags.executionEnabled) {
      outcome = 'WOULD_TRADE';
    } else {
      await openPosition(state, decision.side, decision.notional, signal.confidence);
    }
  }
  state.lastDecision = outcome;
  await acts().journalDecision({ workflowId, symbol: state.symbol, seq, signal, decision: outcome, reason });
}

async function openPosition(state: SymbolState, side: 'LONG' | 'SHORT', notional: number, confidence: number): Promise<void> {
  const seq = ++state.positionSeq;
  const positionId = `${state.symbol}-${state.instanceId}-${seq}`;
  state.openPositionId = positionId;
  state.openPositionSide = side;
  await startChild(positionWorkflow, {
    workflowId: positionWorkflowId(positionId),
    args: [
      {
        positionId,
        symbol: state.symbol,
        side,
        notional,
        confidence,
        parentWorkflowId: workflowInfo().workflowId,
        params: state.params,
        orderIdStem: `qt-${state.instanceId}-${seq}`,
      },
    ],
    // The position must outlive this run: continue-as-new closes the parent run.
    parentClosePolicy: ParentClosePolicy.ABANDON,
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    staticSummary: `${side} ${state.symbol}`,
  });
}

async function flattenOpenPosition(state: SymbolState): Promise<void> {
  if (!state.openPositionId) return;
  try {
    await getExternalWorkflowHandle(positionWorkflowId(state.openPositionId)).signal(closePositionSignal, { reason: 'KILL_FLATTEN' });
  } catch (err) {
    // The position workflow is gone (already closed): nothing left to flatten.
    log.warn('flatten: position workflow not reachable', { positionId: state.openPositionId, error: failureText(err) });
    state.openPositionId = null;
    state.openPositionSide = null;
  }
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
  const phase = phaseOf(state, Date.now());
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
  setCurrentDetails(`**${state.symbol}** ${phase} | last signal ${sig} | decision ${state.lastDecision ?? '-'}${extra}`);
}
