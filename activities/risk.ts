import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { checkRisk, type RiskVerdict } from '../core/risk.js';
import { RISK_BOOK_SUMMARY, RISK_REJECTED_FAILURE, adoptReservationSignal, previewReserveQuery, reserveUpdate, riskBookStart, riskBookWorkflowId } from '../workflows/book-contracts.js';
import type { ReserveRequest } from '../core/risk-book.js';
import type { TradingActivities } from './contracts.js';
import { attempt, keepAlive, type ActivityDeps } from './deps.js';
import { bounded } from './temporal-views.js';
import type { BookCopy } from './book-copy.js';

function startOfUtcDay(now = Date.now()): Date {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
}

type RiskActivities = Pick<TradingActivities, 'checkEntryRisk' | 'reserveEntry' | 'loadKillSwitch' | 'persistKillSwitch'>;

/**
 * Book-wide risk. Entries reserve capacity in the risk-book workflow (see workflows/risk-book.ts for
 * why a workflow rather than a locked Postgres table) after checking that the symbol is flat on the
 * exchange, so a loop can never enter on top of exposure it does not know about.
 */
export function riskActivities({ exchange: ex, journal, log, risk, temporal }: ActivityDeps, bookCopy: BookCopy): RiskActivities {
  const bookId = riskBookWorkflowId(temporal.taskQueue);
  const startBook = () =>
    new WithStartWorkflowOperation('riskBookWorkflow', {
      ...riskBookStart(temporal.taskQueue),
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: RISK_BOOK_SUMMARY,
    });
  async function reserve(request: ReserveRequest, attemptKey: string): Promise<RiskVerdict> {
    try {
      return await bounded(temporal.client, () =>
        temporal.client.workflow.executeUpdateWithStart(reserveUpdate, { args: [request], updateId: `reserve-${attemptKey}`, startWorkflowOperation: startBook() }),
      );
    } catch (err) {
      // The book refused it in its validator (nothing was written): the refusal carries the verdict.
      const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
      if (cause instanceof ApplicationFailure && cause.type === RISK_REJECTED_FAILURE && cause.details?.[0]) return cause.details[0] as RiskVerdict;
      throw err;
    }
  }

  async function preview(request: ReserveRequest): Promise<RiskVerdict> {
    return bounded(temporal.client, () => temporal.client.workflow.getHandle(bookId).query(previewReserveQuery, request));
  }

  return {
    /**
     * The journal-based check of loops from before the risk book: their histories replay it. It counts
     * journaled positions only and is not atomic across symbols; nothing new calls it.
     */
    async checkEntryRisk(p) {
      const [kill, open, pnl] = await Promise.all([journal.getGlobalKill(), journal.openPositions(), journal.realizedPnlSince(startOfUtcDay())]);
      return checkRisk(p, { globalKill: kill.on, openPositions: open, realizedPnlToday: pnl }, risk());
    },

    // Heartbeats: a worker killed while the book decides is noticed in seconds, not at the 30 s timeout.
    reserveEntry: (req) => keepAlive(async (): Promise<RiskVerdict> => {
      if (req.adopt) {
        await bounded(temporal.client, () =>
          temporal.client.workflow.signalWithStart('riskBookWorkflow', {
            ...riskBookStart(temporal.taskQueue),
            signal: adoptReservationSignal,
            signalArgs: [{ positionId: req.positionId, symbol: req.symbol, notional: req.notional, leverage: req.leverage }],
          }),
        );
        return { approved: true };
      }
      // Any failure here (exchange or Temporal unreachable) fails the activity: the loop refuses the entry.
      const [positions, venueTime] = await Promise.all([ex.positions(req.symbol), ex.venueTime(req.symbol)]);
      const exposure = positions.find((p) => p.symbol === req.symbol && p.positionAmt !== 0);
      if (exposure) {
        log.warn({ symbol: req.symbol, positionAmt: exposure.positionAmt }, `Entry refused on ${req.symbol}: the exchange already holds ${exposure.positionAmt} that this loop does not own`);
        return { approved: false, rule: 'UNOWNED_EXPOSURE', detail: `${req.symbol} holds ${exposure.positionAmt} on the exchange without an owner in this loop` };
      }
      const request: ReserveRequest = { positionId: req.positionId, symbol: req.symbol, notional: req.notional, leverage: req.leverage, venueTime, limits: risk() };
      // The book's published copy refuses what the book would (it is full, killed, past its loss): no request to it.
      // Not on a retry: the first attempt may have reserved this id, which the copy does not show (the book would
      // approve the id again; the copy would count it as taken and refuse, and the reservation would be left over).
      const refused = attempt() === 1 ? await bookCopy.refusal(req, request.limits, venueTime) : null;
      if (refused) return refused;
      const verdict = req.dryRun ? await preview(request) : await bookCopy.reserving(req, () => reserve(request, req.attemptKey));
      if (!verdict.approved) log.info({ symbol: req.symbol, rule: verdict.rule }, `Risk rejected ${req.symbol}: ${verdict.detail}`);
      return verdict;
    }),

    async loadKillSwitch() {
      const kill = await journal.getGlobalKill();
      return { on: kill.on, reason: kill.reason };
    },

    async persistKillSwitch({ on, reason }) {
      await journal.setGlobalKill(on, reason);
      log.info({ on, reason }, `Global kill switch ${on ? 'ON' : 'OFF'} persisted to the journal`);
    },
  };
}
