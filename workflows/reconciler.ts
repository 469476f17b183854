import {
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  makeContinueAsNewFunc,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { orderStemOf, positionIdOf } from '../core/position-ids.js';
import { describeAction, findings, planReconciliation, type Observation, type ReconcileAction } from '../core/reconcile.js';
import type { TradingActivities } from '../activities/contracts.js';
import {
  adoptReservationSignal,
  configureReconcilerSignal,
  reconcileNowUpdate,
  reconcileSoonSignal,
  reconcilerQuery,
  releaseSignal,
  riskBookWorkflowId,
  type ActionOutcome,
  type ReconcileResult,
  type ReconcilerConfig,
  type ReconcilerInput,
  type ReconcilerState,
} from './book-contracts.js';
import { POSITION_PRIORITY, WORKFLOW_TASK_TIMEOUT, positionWorkflowId, reclaimSignal, symbolWorkflowId, type PositionInput } from './contracts.js';
import { failureText } from './failure-text.js';

/**
 * Reconciliation as a workflow on a durable timer rather than a loop inside the worker: its passes,
 * the actions taken and their failures are visible in the Web UI; it needs no leader election when
 * several workers run (the workflow id makes it one per deployment); it survives any worker crash
 * mid-pass; and its adoptions start position workflows deterministically (ids from its own state).
 */
const acts = proxyActivities<TradingActivities>({ startToCloseTimeout: '60s', retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 } });
/** Flattening sends an order: heartbeats detect a dead worker fast, and the retry finds the order by its id. */
const orders = proxyActivities<TradingActivities>({ startToCloseTimeout: '60s', heartbeatTimeout: '5s', retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 } });

const PASSES_PER_RUN = 500;
/** Action outcomes kept for the journal while Postgres is down. */
const MAX_UNJOURNALED = 500;

/** The second look of a pass: long enough for visibility to catch up and a start in flight to show. */
export function confirmDelayMs(periodSeconds: number): number {
  return Math.min(10_000, Math.max(1_000, (periodSeconds * 1000) / 4));
}

export async function reconcilerWorkflow(input: ReconcilerInput): Promise<void> {
  let config: ReconcilerConfig = input.config;
  const state: ReconcilerState = input.state ?? { instanceId: uuid4().replace(/-/g, '').slice(0, 6), adoptions: 0, passes: 0, last: null, unjournaled: [] };
  // A pass right away: at worker start (it signals `configure`), and when a run begins.
  let requested = true;
  let running = false;

  setHandler(reconcilerQuery, () => ({ ...state, config }));
  setHandler(configureReconcilerSignal, (c) => {
    config = c;
    requested = true;
  });
  setHandler(reconcileSoonSignal, () => {
    requested = true;
  });
  setHandler(reconcileNowUpdate, async () => {
    // A pass already under way may have observed before this request: wait for the next one.
    const target = state.passes + (running ? 2 : 1);
    requested = true;
    await condition(() => state.passes >= target);
    return state.last!;
  });

  for (let passes = 0; ; passes++) {
    if (!requested && (passes >= PASSES_PER_RUN || workflowInfo().continueAsNewSuggested)) {
      await condition(allHandlersFinished);
      await makeContinueAsNewFunc<typeof reconcilerWorkflow>({ workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT })({ config, state });
    }
    await condition(() => requested, config.periodSeconds * 1000);
    requested = false;
    running = true;
    state.last = await pass(state, config);
    state.passes++;
    running = false;
    await record(state);
    describe(state, config);
  }
}

async function pass(state: ReconcilerState, config: ReconcilerConfig): Promise<ReconcileResult> {
  const startedAt = Date.now();
  const result = (seen: Observation | null, actions: ActionOutcome[], suspects: ReconcileAction[], error: string | null): ReconcileResult => ({
    pass: state.passes + 1,
    startedAt,
    finishedAt: Date.now(),
    seen: {
      exposures: seen?.exposures.length ?? 0,
      stops: seen?.stops.length ?? 0,
      owners: seen?.owners.length ?? 0,
      loops: seen?.loops.length ?? 0,
      journalOpen: seen?.journalOpen?.length ?? null,
      reservations: seen?.reservations?.length ?? null,
    },
    actions,
    suspects: suspects.map((action) => ({ action, description: describeAction(action) })),
    error,
  });
  let first: Observation;
  let second: Observation;
  try {
    first = await acts.observeBook({});
    if (findings(first, config.orphanPolicy).length === 0) return result(first, [], [], null);
    await sleep(confirmDelayMs(config.periodSeconds));
    second = await acts.observeBook({});
  } catch (err) {
    return result(null, [], [], failureText(err));
  }
  const plan = planReconciliation(first, second, config.orphanPolicy);
  const outcomes: ActionOutcome[] = [];
  for (const action of plan.actions) {
    const description = describeAction(action);
    try {
      outcomes.push({ action, description, outcome: 'DONE', detail: await act(state, config, action) });
    } catch (err) {
      outcomes.push({ action, description, outcome: 'FAILED', detail: failureText(err) });
    }
  }
  return result(second, outcomes, plan.suspects, null);
}

async function act(state: ReconcilerState, config: ReconcilerConfig, a: ReconcileAction): Promise<string> {
  const book = getExternalWorkflowHandle(riskBookWorkflowId(workflowInfo().taskQueue));
  switch (a.kind) {
    case 'ADOPT': {
      const positionId = positionIdOf(a.symbol, `rc${state.instanceId}-${++state.adoptions}`);
      const quantity = Math.abs(a.positionAmt);
      await book.signal(adoptReservationSignal, { positionId, symbol: a.symbol, notional: quantity * a.markPrice, leverage: config.params.leverage });
      const input: PositionInput = {
        positionId,
        symbol: a.symbol,
        side: a.positionAmt > 0 ? 'LONG' : 'SHORT',
        notional: quantity * a.entryPrice,
        confidence: 0,
        // Reports go to the symbol's loop by workflow id: a loop started later receives them.
        parentWorkflowId: symbolWorkflowId(a.symbol),
        params: config.params,
        orderIdStem: orderStemOf(positionId),
        adopt: { quantity, entryPrice: a.entryPrice, reason: 'reconciliation: exchange exposure without an owner' },
      };
      await startChild('positionWorkflow', {
        workflowId: positionWorkflowId(positionId),
        workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
        priority: POSITION_PRIORITY,
        args: [input],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        staticSummary: `adopted ${input.side} ${a.symbol}`,
      });
      return `position workflow ${positionWorkflowId(positionId)} adopts ${a.positionAmt}`;
    }
    case 'FLATTEN': {
      const tag = `rc${state.instanceId}-${++state.adoptions}`;
      const r = await orders.flattenSymbol({ symbol: a.symbol, clientOrderId: `${orderStemOf(positionIdOf(a.symbol, tag))}-K`, positionId: null, reason: 'ORPHAN_FLATTEN' });
      return r.detail;
    }
    case 'RECLAIM':
      await getExternalWorkflowHandle(symbolWorkflowId(a.symbol)).signal(reclaimSignal, { stalePositionId: a.stalePositionId, reason: describeAction(a) });
      return 'symbol loop told';
    case 'CANCEL_STOP':
      return acts.cancelStaleStop(a);
    case 'SETTLE_ROW': {
      const r = await acts.settleOrphanRow(a);
      await book.signal(releaseSignal, { positionId: a.positionId, netPnl: r.netPnl, venueTime: r.venueTime });
      return r.detail;
    }
    case 'RELEASE': {
      const r = await acts.closedPositionPnl({ positionId: a.positionId });
      await book.signal(releaseSignal, { positionId: a.positionId, netPnl: r.netPnl, venueTime: r.venueTime });
      return `released (net ${r.netPnl.toFixed(4)})`;
    }
    case 'RESERVE':
      await book.signal(adoptReservationSignal, { positionId: a.positionId, symbol: a.symbol, notional: a.notional, leverage: config.params.leverage });
      return 'counted in the risk book';
  }
}

/** Log the pass, keep it for /health, and journal its actions (kept here until Postgres takes them). */
async function record(state: ReconcilerState): Promise<void> {
  const last = state.last!;
  state.unjournaled.push(...last.actions);
  if (state.unjournaled.length > MAX_UNJOURNALED) state.unjournaled.splice(0, state.unjournaled.length - MAX_UNJOURNALED);
  try {
    const journaled = await acts.recordReconciliation({ result: last, unjournaled: state.unjournaled });
    state.unjournaled.splice(0, journaled);
  } catch (err) {
    log.warn('reconciliation pass not recorded', { error: failureText(err) });
  }
}

function describe(state: ReconcilerState, config: ReconcilerConfig): void {
  const last = state.last;
  const done = last?.actions.filter((a) => a.outcome === 'DONE').length ?? 0;
  const failed = last?.actions.filter((a) => a.outcome === 'FAILED').length ?? 0;
  setCurrentDetails(
    `**Reconciliation** every ${config.periodSeconds}s, orphans: ${config.orphanPolicy} | pass ${state.passes}` +
      (last ? ` at ${new Date(last.finishedAt).toISOString()}: ${last.error ? `observation failed: ${last.error}` : `${done} action(s), ${failed} failed, ${last.suspects.length} suspect(s)`}` : '') +
      (state.unjournaled.length ? ` | ${state.unjournaled.length} event(s) waiting for the journal` : ''),
  );
}
