import type { Client } from '@temporalio/client';
import type { OrphanPolicy } from '../core/config.js';
import type { TradingParams } from '../core/params.js';
import { configureReconcilerSignal, reconcilerWorkflowId, riskBookWorkflowId, type ReconcilerConfig } from '../workflows/book-contracts.js';
import { WORKFLOW_TASK_TIMEOUT } from '../workflows/contracts.js';
import type { reconcilerWorkflow } from '../workflows/reconciler.js';
import type { riskBookWorkflow } from '../workflows/risk-book.js';

export interface BookkeeperOptions {
  taskQueue: string;
  reconcileSeconds: number;
  orphanPolicy: OrphanPolicy;
  params: TradingParams;
}

/**
 * The book-wide workflows of a deployment, started once and left running: the risk book, and the
 * reconciler, which is (re)configured and asked for a pass at every worker start (the startup
 * reconciliation). Safe to call from every worker: ids are fixed per task queue.
 */
export async function ensureBookkeepers(client: Client, o: BookkeeperOptions): Promise<void> {
  await client.workflow.start<typeof riskBookWorkflow>('riskBookWorkflow', {
    workflowId: riskBookWorkflowId(o.taskQueue),
    taskQueue: o.taskQueue,
    workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
    args: [{}],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: 'risk book: reservations, kill switch, daily P&L',
  });
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
