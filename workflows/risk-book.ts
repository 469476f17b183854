import { ApplicationFailure, allHandlersFinished, condition, makeContinueAsNewFunc, log, patched, proxyActivities, setCurrentDetails, setHandler, upsertMemo, workflowInfo } from '@temporalio/workflow';
import { applyAdopt, applyKill, applyRelease, applyReserve, bookTotals, emptyBook, previewReserve, publishedBook, type RiskBook } from '../core/risk-book.js';
import type { RiskLimits } from '../core/risk.js';
import type { TradingActivities } from '../activities/contracts.js';
import { WORKFLOW_TASK_TIMEOUT } from './contracts.js';
import {
  PUBLISHED_BOOK_MEMO,
  RISK_REJECTED_FAILURE,
  adoptReservationSignal,
  previewReserveQuery,
  releaseSignal,
  reserveUpdate,
  riskBookQuery,
  setKillSignal,
  type RiskBookInput,
} from './book-contracts.js';
import { failureText } from './failure-text.js';
import { MAX_EVENTS_PER_LOOP_RUN, runEndsAtEventLimit } from './run-length.js';

/**
 * Why a workflow and not a row-locked reservation table in Postgres: Temporal runs a workflow's update
 * and signal handlers one at a time, so every reservation sees every earlier one (atomic across
 * symbols by construction); the book is durable and survives a Postgres outage, so entries keep their
 * limits while the journal is down and the kill switch lives here even then; and the book is visible
 * in the Web UI. Postgres keeps a copy of the kill switch for the record (persisted below, retried
 * until Postgres answers).
 */

/** Seeding the kill switch from Postgres at first start is best effort: a few tries, then go on. */
const seed = proxyActivities<TradingActivities>({ startToCloseTimeout: '10s', retry: { initialInterval: '1s', maximumInterval: '5s', maximumAttempts: 3 } });
/** The persisted copy of the kill switch is written until Postgres answers, however long that takes. */
const persist = proxyActivities<TradingActivities>({ startToCloseTimeout: '15s', retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' } });

/**
 * The book shows a copy of itself in its memo after every change, so an entry the book would refuse is refused from
 * the copy without a request (activities/book-copy.ts). Runs recorded before it replay without the memo writes.
 */
const PUBLISH_COPY = 'book-publishes-copy';

/** Continue-as-new after this many handled requests in one run (each is a few history events). */
const REQUESTS_PER_RUN = 2_000;

export async function riskBookWorkflow(input: RiskBookInput): Promise<void> {
  const book: RiskBook = input.state ?? emptyBook();
  let ready = input.state !== undefined;
  let requests = 0;
  let killToPersist = false;
  let killSetExplicitly = false;
  let limits: RiskLimits | null = null;
  const runIsLong = runEndsAtEventLimit(MAX_EVENTS_PER_LOOP_RUN);
  const publishes = patched(PUBLISH_COPY);
  let published = '';
  /** The Web UI's line, and the published copy when it changed (a memo write is a history event). */
  const show = (): void => {
    describe(book, limits);
    if (!publishes) return;
    const copy = publishedBook(book);
    const key = JSON.stringify(copy);
    if (key === published) return;
    published = key;
    upsertMemo({ [PUBLISHED_BOOK_MEMO]: copy });
  };

  setHandler(riskBookQuery, () => book);
  setHandler(previewReserveQuery, (req) => previewReserve(book, req));
  setHandler(
    reserveUpdate,
    async (req) => {
      await condition(() => ready);
      requests++;
      limits = req.limits;
      const verdict = applyReserve(book, req);
      show();
      return verdict;
    },
    {
      // Refusals are decided here, before the update is written to history: a fleet asking again on
      // every tick while the book is full costs no history at all.
      validator: (req) => {
        const verdict = ready ? previewReserve(book, req) : { approved: true as const };
        if (!verdict.approved) throw ApplicationFailure.create({ type: RISK_REJECTED_FAILURE, message: `${verdict.rule}: ${verdict.detail}`, details: [verdict], nonRetryable: true });
      },
    },
  );
  setHandler(releaseSignal, (req) => {
    requests++;
    applyRelease(book, req);
    show();
  });
  setHandler(adoptReservationSignal, (r) => {
    requests++;
    if (applyAdopt(book, r)) log.warn('exposure without a reservation counted in the book', { positionId: r.positionId, notional: r.notional });
    show();
  });
  setHandler(setKillSignal, (k) => {
    requests++;
    killSetExplicitly = true;
    applyKill(book, k, Date.now());
    killToPersist = true;
    show();
  });

  if (!ready) {
    // A book created for a journal that already says "killed" (a kill from before the book existed) starts killed.
    try {
      const persisted = await seed.loadKillSwitch();
      if (persisted.on && !killSetExplicitly) applyKill(book, { on: true, reason: persisted.reason }, Date.now());
    } catch (err) {
      log.warn('could not read the persisted kill switch; starting from the signals received', { error: failureText(err) });
    }
    ready = true;
  }
  show();

  for (;;) {
    await condition(() => killToPersist || requests >= REQUESTS_PER_RUN || runIsLong() || workflowInfo().continueAsNewSuggested);
    if (killToPersist) {
      killToPersist = false;
      await persist.persistKillSwitch({ on: book.kill.on, reason: book.kill.reason });
      continue;
    }
    await condition(allHandlersFinished);
    await makeContinueAsNewFunc<typeof riskBookWorkflow>({ workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT })({ state: book });
  }
}

function describe(book: RiskBook, limits: RiskLimits | null): void {
  const t = bookTotals(book);
  const of = (n: number | undefined) => (n === undefined ? '' : `/${n}`);
  setCurrentDetails(
    `**Risk book** ${t.positions}${of(limits?.maxOpenPositions)} positions, notional ${t.notional.toFixed(2)}${of(limits?.maxTotalNotional)}` +
      ` | venue day ${book.day.key || '-'} net ${book.day.netPnl.toFixed(2)}${limits ? ` (loss limit ${limits.dailyLossLimit})` : ''}` +
      ` | kill ${book.kill.on ? `ON (${book.kill.reason ?? ''}${book.kill.flatten ? ', flatten' : ''})` : 'off'}`,
  );
}
