import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { exitLevels, newTracker, observePrice } from '../core/exits.js';
import type { ExitReason } from '../core/types.js';
import type { ExitResult, TradingActivities } from '../activities/contracts.js';
import {
  closePositionSignal,
  positionClosedSignal,
  positionStateQuery,
  type LegacyPositionState as PositionState,
  type PositionInput,
  type PositionReport,
} from './contracts.js';
import { failureText } from './failure-text.js';
import type { positionWorkflow } from './position.js';

/**
 * The position workflow as it was before the position lifecycle (core/position-lifecycle.ts). It stays so
 * that histories of positions started with it replay unchanged; a position of this kind that is still
 * open hands itself over to the lifecycle at its next check (patch 'position-lifecycle-handover'), so it
 * runs under the earlier rules only until then. Delete once no such workflow is running.
 */

/** Order activities resolve unknown outcomes by querying the client order id, so retries are safe. */
const orders = proxyActivities<TradingActivities>({
  startToCloseTimeout: '60s',
  // Order activities heartbeat every second: a dead worker is detected in seconds.
  heartbeatTimeout: '5s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s' },
});
const reads = proxyActivities<TradingActivities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 },
});

const MAX_CHECKS_PER_RUN = 2_000;

function initialState(): PositionState {
  return {
    stage: 'ENTERING',
    quantity: 0,
    entryPrice: 0,
    entryFee: 0,
    openedAt: 0,
    tracker: null,
    stopPrice: null,
    takeProfitPrice: null,
    lastMark: null,
    lastMarkAt: null,
    exitAttempts: 0,
    closeRequest: null,
    result: null,
  };
}

/**
 * One open position: MARKET entry, an exchange-side protective stop right after the fill, then
 * watch the mark price until take profit, stop loss, trailing stop, time limit or a close request,
 * and report the exit to the symbol workflow (by workflow id, so any of its runs receives it).
 */
/** `handOver` null: never hand over, as the earlier code ran (only the test of the hand-over runs it so). */
export async function legacyPositionWorkflow(input: PositionInput, handOver: ((s: PositionState) => Promise<PositionReport>) | null): Promise<PositionReport> {
  const s: PositionState = (input.state as PositionState | undefined) ?? initialState();
  const ids = { entry: `${input.orderIdStem}-E`, stop: `${input.orderIdStem}-S` };
  let wake = false;

  setHandler(positionStateQuery, () => ({ ...input, state: s }));
  setHandler(closePositionSignal, ({ reason }) => {
    s.closeRequest ??= { reason };
    wake = true;
  });

  if (s.stage === 'ENTERING') {
    const entry = await orders.openPosition({
      positionId: input.positionId,
      workflowId: workflowInfo().workflowId,
      symbol: input.symbol,
      side: input.side,
      notional: input.notional,
      leverage: input.params.leverage,
      clientOrderId: ids.entry,
      stopLossPct: input.params.stopLossPct,
      takeProfitPct: input.params.takeProfitPct,
    });
    if (entry.status === 'REJECTED') {
      await orders.journalEntryFailure({ positionId: input.positionId, workflowId: workflowInfo().workflowId, symbol: input.symbol, side: input.side, reason: entry.reason });
      return report(input, s, { positionId: input.positionId, outcome: 'ENTRY_FAILED', exitReason: null, netPnl: 0, at: Date.now(), venueTime: Date.now(), detail: entry.reason });
    }
    Object.assign(s, {
      stage: 'OPEN',
      quantity: entry.quantity,
      entryPrice: entry.entryPrice,
      entryFee: entry.entryFee,
      openedAt: Date.now(),
      tracker: newTracker(input.side, entry.entryPrice, Date.now()),
      stopPrice: entry.stopPrice,
      takeProfitPrice: entry.takeProfitPrice,
    });
    try {
      await orders.placeProtectiveStop({ positionId: input.positionId, symbol: input.symbol, side: input.side, triggerPrice: entry.stopPrice, clientAlgoId: ids.stop });
    } catch (err) {
      // The exchange refused the stop: never hold a position nobody guards while the agent is down.
      log.error('protective stop refused; closing the position', { positionId: input.positionId, error: failureText(err) });
      s.closeRequest ??= { reason: 'PROTECTION_FAILED' };
    }
  }

  for (let checks = 0; s.stage !== 'CLOSED'; checks++) {
    // Not replaying any more: from here on the position is run by the lifecycle.
    if (handOver && patched('position-lifecycle-handover')) return handOver(s);
    if (checks >= MAX_CHECKS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof positionWorkflow>({ ...input, state: s });
    }
    describe(input, s);
    const exit = await nextExit(input, s);
    if (exit === 'STOP_FIRED') {
      const settled = await orders.settleProtectiveStop({ positionId: input.positionId, symbol: input.symbol, side: input.side, entryFee: s.entryFee, stopClientAlgoId: ids.stop });
      return finish(input, s, settled);
    }
    if (exit) {
      s.stage = 'EXITING';
      s.exitAttempts++;
      let result: ExitResult;
      try {
        result = await orders.closePosition({
          positionId: input.positionId,
          symbol: input.symbol,
          side: input.side,
          quantity: s.quantity,
          entryFee: s.entryFee,
          clientOrderId: exitOrderId(input, s.exitAttempts),
          earlierClientOrderIds: Array.from({ length: s.exitAttempts - 1 }, (_, i) => exitOrderId(input, i + 1)),
          stopClientAlgoId: ids.stop,
          reason: exit,
        });
      } catch (err) {
        // Refused by the exchange (not a transient error: those are retried inside): keep watching,
        // the protective stop still guards the position, and try again at the next check.
        log.error('exit order failed; retrying at the next check', { positionId: input.positionId, error: failureText(err) });
        s.stage = 'OPEN';
        await condition(() => false, input.params.positionCheckSeconds * 1000);
        continue;
      }
      if (result.status === 'CLOSED') return finish(input, s, result);
      const settled = await orders.settleProtectiveStop({ positionId: input.positionId, symbol: input.symbol, side: input.side, entryFee: s.entryFee, stopClientAlgoId: ids.stop });
      return finish(input, s, settled);
    }
    wake = false;
    await condition(() => wake, input.params.positionCheckSeconds * 1000);
  }
  return s.result!;
}

const exitOrderId = (input: PositionInput, attempt: number): string => `${input.orderIdStem}-X${attempt}`;

/** Read the exchange once and decide: an exit reason, 'STOP_FIRED', or null to keep holding. */
async function nextExit(input: PositionInput, s: PositionState): Promise<ExitReason | 'STOP_FIRED' | null> {
  if (s.closeRequest) return s.closeRequest.reason;
  let reading;
  try {
    reading = await reads.readPosition({ symbol: input.symbol });
  } catch (err) {
    // A missed reading is not an exit; the protective stop still guards the position.
    log.warn('position read failed', { positionId: input.positionId, error: failureText(err) });
    return null;
  }
  // A close request may have arrived while the reading was in flight.
  const request = s.closeRequest as PositionState['closeRequest'];
  if (request) return request.reason;
  s.lastMark = reading.markPrice;
  s.lastMarkAt = Date.now();
  if (reading.openQuantity === 0) return 'STOP_FIRED';
  const { tracker, exit } = observePrice(s.tracker!, reading.markPrice, Date.now(), input.params);
  s.tracker = tracker;
  return exit?.reason ?? null;
}

async function finish(input: PositionInput, s: PositionState, r: Extract<ExitResult, { status: 'CLOSED' }>): Promise<PositionReport> {
  return report(input, s, { positionId: input.positionId, outcome: 'CLOSED', exitReason: r.reason, netPnl: r.netPnl, at: Date.now(), venueTime: Date.now() });
}

async function report(input: PositionInput, s: PositionState, r: PositionReport): Promise<PositionReport> {
  s.stage = 'CLOSED';
  s.result = r;
  describe(input, s);
  try {
    await getExternalWorkflowHandle(input.parentWorkflowId).signal(positionClosedSignal, r);
  } catch (err) {
    // The symbol workflow is gone (terminated by an operator); the journal still has the exit.
    log.warn('could not report exit to symbol workflow', { positionId: input.positionId, error: String(err) });
  }
  return r;
}

function describe(input: PositionInput, s: PositionState): void {
  const levels = s.entryPrice ? exitLevels(input.side, s.entryPrice, input.params) : null;
  setCurrentDetails(
    `**${input.side} ${input.symbol}** ${s.stage} | qty ${s.quantity} @ ${s.entryPrice || '-'} | mark ${s.lastMark ?? '-'}` +
      (levels ? ` | TP ${levels.takeProfit.toPrecision(6)} SL ${levels.stopLoss.toPrecision(6)}` : '') +
      (s.result ? ` | exit ${s.result.exitReason ?? s.result.outcome} net ${s.result.netPnl.toFixed(4)}` : ''),
  );
}
