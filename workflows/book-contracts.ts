import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ReconcileAction } from '../core/reconcile.js';
import type { Reservation, ReserveRequest, ReleaseRequest, RiskBook } from '../core/risk-book.js';
import type { RiskVerdict } from '../core/risk.js';
import type { OrphanPolicy } from '../core/reconcile.js';
import type { TradingParams } from '../core/params.js';
import { DEFAULT_TASK_QUEUE } from '../core/task-queue.js';
import { RISK_BOOK_PRIORITY, WORKFLOW_TASK_TIMEOUT } from './contracts.js';

/**
 * Contracts of the two book-wide workflows: the risk book (one per account / task queue: capacity
 * reservations, the kill switch, the day's realized P&L) and the reconciler (exchange vs workflows vs
 * journal on a durable timer).
 */


const scoped = (base: string, taskQueue: string): string => (taskQueue === DEFAULT_TASK_QUEUE ? base : `${base}-${taskQueue}`);
export const riskBookWorkflowId = (taskQueue: string): string => scoped('qt-risk-book', taskQueue);
export const reconcilerWorkflowId = (taskQueue: string): string => scoped('qt-reconciler', taskQueue);

// ---- risk book ----

export interface RiskBookInput {
  /** Present when continuing from a previous run. */
  state?: RiskBook;
}

/**
 * How every starter of the risk book starts it (the worker, an entry's reservation or adoption, `qt kill`): one book
 * per task queue, with the fleet's workflow task timeout and the book's task priority.
 */
export function riskBookStart(taskQueue: string) {
  return { workflowId: riskBookWorkflowId(taskQueue), taskQueue, workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT, priority: RISK_BOOK_PRIORITY, args: [{}] as [RiskBookInput] };
}
export const RISK_BOOK_SUMMARY = 'risk book: reservations, kill switch, daily P&L';

export const reserveUpdate = defineUpdate<RiskVerdict, [ReserveRequest]>('reserve');
export const releaseSignal = defineSignal<[ReleaseRequest]>('release');
export const adoptReservationSignal = defineSignal<[Omit<Reservation, 'adopted' | 'at'>]>('adoptReservation');
export interface KillSwitchChange {
  on: boolean;
  reason: string | null;
  /** With `on`: exposure nobody owns is flattened rather than adopted. */
  flatten?: boolean;
}
export const setKillSignal = defineSignal<[KillSwitchChange]>('setKill');
export const riskBookQuery = defineQuery<RiskBook>('riskBook');
/** Memo key of the book's published copy (core/risk-book.ts `PublishedBook`), read by entries with `describe`. */
export const PUBLISHED_BOOK_MEMO = 'qtPublishedBook';
/** The verdict a reservation would get, without reserving (entries with execution disabled). */
export const previewReserveQuery = defineQuery<RiskVerdict, [ReserveRequest]>('previewReserve');
/** Failure type of a reservation the book refuses: refused before it is written to history. */
export const RISK_REJECTED_FAILURE = 'RiskRejected';

// ---- reconciler ----

export interface ReconcilerConfig {
  periodSeconds: number;
  orphanPolicy: OrphanPolicy;
  /** Exit parameters for positions reconciliation adopts itself (no symbol loop runs for the symbol). */
  params: TradingParams;
}

export interface ReconcilerInput {
  config: ReconcilerConfig;
  /** Present when continuing from a previous run. */
  state?: ReconcilerState;
}

export interface ActionOutcome {
  action: ReconcileAction;
  description: string;
  outcome: 'DONE' | 'FAILED';
  detail: string;
}

export interface ReconcileResult {
  /** Pass number since the reconciler first started. */
  pass: number;
  startedAt: number;
  finishedAt: number;
  /** What the second observation saw. */
  seen: { exposures: number; stops: number; owners: number; loops: number; journalOpen: number | null; reservations: number | null };
  actions: ActionOutcome[];
  /** Seen once; acted on when the next observation agrees. */
  suspects: { action: ReconcileAction; description: string }[];
  /** The observation itself failed (exchange or Temporal unreachable): nothing was decided. */
  error: string | null;
}

export interface ReconcilerState {
  /** Fixed at the first run; tags the positions it adopts directly. */
  instanceId: string;
  adoptions: number;
  passes: number;
  last: ReconcileResult | null;
  /** Action outcomes not yet written to the journal (Postgres was down), oldest first; bounded. */
  unjournaled: ActionOutcome[];
}

export const reconcileNowUpdate = defineUpdate<ReconcileResult, []>('reconcileNow');
/** Ask for a pass soon without waiting for it (a kill with flatten: orphans are flattened at once). */
export const reconcileSoonSignal = defineSignal<[]>('reconcileSoon');
export const configureReconcilerSignal = defineSignal<[ReconcilerConfig]>('configure');
export const reconcilerQuery = defineQuery<ReconcilerState & { config: ReconcilerConfig }>('reconciler');
