import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { symbolOfPositionId } from '../core/position-ids.js';
import { positionStateQuery, positionWorkflowId, symbolStateQuery, symbolWorkflowId } from '../workflows/contracts.js';
import type { PositionSide } from '../core/types.js';

/**
 * Running workflows as Temporal sees them. Visibility (list) is eventually consistent: a workflow
 * started a moment ago may be missing, which is why ownership is only denied on a second look and
 * specific ids are confirmed with describe (strongly consistent).
 */
const POSITION_PREFIX = 'qt-position-';

/** Longest a call to Temporal from an activity may take (inside the tick's local activity timeout). */
export const TEMPORAL_CALL_MS = 15_000;

/**
 * Run Temporal client calls with a deadline, and cancelled with the activity: an update to a book
 * that no worker can process right now (workers shutting down) must not hold an activity forever.
 */
export function bounded<T>(client: Client, fn: () => Promise<T>, ms = TEMPORAL_CALL_MS): Promise<T> {
  const signal = Context.current().cancellationSignal;
  return client.withDeadline(Date.now() + ms, () => client.withAbortSignal(signal, fn));
}

export interface RunningPosition {
  positionId: string;
  symbol: string;
}

function list(client: Client, query: string): Promise<string[]> {
  return bounded(client, async () => {
    const ids: string[] = [];
    for await (const wf of client.workflow.list({ query })) ids.push(wf.workflowId);
    return ids;
  });
}

export async function runningPositions(client: Client, taskQueue: string): Promise<RunningPosition[]> {
  const ids = await list(client, `WorkflowType = 'positionWorkflow' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue}'`);
  return ids
    .filter((id) => id.startsWith(POSITION_PREFIX))
    .map((id) => id.slice(POSITION_PREFIX.length))
    .map((positionId) => ({ positionId, symbol: symbolOfPositionId(positionId) }));
}

export async function runningLoopSymbols(client: Client, taskQueue: string): Promise<string[]> {
  const ids = await list(client, `WorkflowType = 'symbolWorkflow' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue}'`);
  return ids.map((id) => id.replace(/^qt-symbol-/, ''));
}

export async function isRunning(client: Client, workflowId: string): Promise<boolean> {
  try {
    return (await bounded(client, () => client.workflow.getHandle(workflowId).describe())).status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** The position a running loop believes it has (null when it has none). */
export async function loopPosition(client: Client, symbol: string): Promise<string | null> {
  const s = await bounded(client, () => client.workflow.getHandle(symbolWorkflowId(symbol)).query(symbolStateQuery));
  return s.openPositionId;
}

/** The side of a running position workflow, or null when it cannot be asked right now. */
export async function positionSide(client: Client, positionId: string): Promise<PositionSide | null> {
  try {
    return (await bounded(client, () => client.workflow.getHandle(positionWorkflowId(positionId)).query(positionStateQuery))).side;
  } catch {
    return null;
  }
}
