import type { Client } from '@temporalio/client';
import type { OrphanPolicy } from '../core/config.js';
import type { TradingParams } from '../core/params.js';
import { RISK_BOOK_SUMMARY, configureReconcilerSignal, reconcilerWorkflowId, riskBookStart, riskBookWorkflowId, type ReconcilerConfig } from '../workflows/book-contracts.js';
import { RISK_BOOK_PRIORITY, WORKFLOW_TASK_TIMEOUT } from '../workflows/contracts.js';
import type { reconcilerWorkflow } from '../workflows/reconciler.js';
import type { riskBookWorkflow } from '../workflows/risk-book.js';

export interface BookkeeperOptions {
  taskQueue: string;
  reconcileSeconds: number;
  orphanPolicy: OrphanPolicy;
  params: TradingParams;
  /** Told what could not be done and is not needed to trade (the book's priority on an older server). */
  warn?: (message: string) => void;
}

/**
 * The book-wide workflows of a deployment, started once and left running: the risk book, and the
 * reconciler, which is (re)configured and asked for a pass at every worker start (the startup
 * reconciliation). Safe to call from every worker: ids are fixed per task queue.
 */
export async function ensureBookkeepers(client: Client, o: BookkeeperOptions): Promise<void> {
  await client.workflow.start<typeof riskBookWorkflow>('riskBookWorkflow', {
    ...riskBookStart(o.taskQueue),
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: RISK_BOOK_SUMMARY,
  });
  await raiseBookPriority(client, riskBookWorkflowId(o.taskQueue)).catch((err: unknown) =>
    o.warn?.(`the risk book keeps its task priority: ${err instanceof Error ? err.message : String(err)}`),
  );
  const config: ReconcilerConfig = { periodSeconds: o.reconcileSeconds, orphanPolicy: o.orphanPolicy, params: o.params };
  await client.workflow.signalWithStart<typeof reconcilerWorkflow, [ReconcilerConfig]>('reconcilerWorkflow', {
    workflowId: reconcilerWorkflowId(o.taskQueue),
    taskQueue: o.taskQueue,
    workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
    args: [{ config }],
    signal: configureReconcilerSignal,
    signalArgs: [config],
    staticSummary: 'reconciliation: exchange vs workflows vs journal',
  });
}

/**
 * A book started before it had a priority keeps the default through every continue-as-new (a new run inherits its
 * priority): give the running book its priority, once. A server that cannot (older than priorities) only costs the
 * book its place ahead of the loops' tasks.
 */
async function raiseBookPriority(client: Client, workflowId: string): Promise<void> {
  const { raw } = await client.workflow.getHandle(workflowId).describe();
  if (raw.workflowExecutionInfo?.priority?.priorityKey === RISK_BOOK_PRIORITY.priorityKey) return;
  await client.workflowService.updateWorkflowExecutionOptions({
    namespace: client.options.namespace,
    workflowExecution: { workflowId },
    workflowExecutionOptions: { priority: RISK_BOOK_PRIORITY },
    updateMask: { paths: ['priority'] },
  });
}
