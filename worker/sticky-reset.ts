import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { mapLimit } from '../core/map-limit.js';

/**
 * Sends the running workflows of the task queue back to the shared queue (Temporal's ResetStickyTaskQueue) when a
 * worker starts, before it polls.
 *
 * Why: each workflow's next task goes to the sticky queue of the worker that ran its last one. After that worker was
 * SIGKILLed, a task scheduled meanwhile (a signal, an update to the risk book, an activity's result) waits in the dead
 * worker's sticky queue for the 3 s sticky schedule-to-start timeout before any worker may take it; in a chaos run
 * the risk book's next task, and then two loops', reached the new worker 3 s late that way (loops ticked again 5.8 s
 * after it was up). A worker that shuts down cleanly does this itself; a killed one cannot. With several workers a
 * starting one also moves the others' workflows back to the shared queue once: their next task may be taken by any
 * worker, which replays it if it does not hold the workflow.
 */
export async function resetStickyQueues(client: Client, namespace: string, taskQueue: string, log: Logger, timeoutMs = 3_000): Promise<number> {
  const started = Date.now();
  const executions: { workflowId: string; runId: string }[] = [];
  let reset = 0;
  try {
    for await (const wf of client.workflow.list({ query: `ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue}'` })) {
      executions.push({ workflowId: wf.workflowId, runId: wf.runId });
      if (Date.now() - started > timeoutMs) break;
    }
    await mapLimit(executions, 32, async (execution) => {
      if (Date.now() - started > timeoutMs) return;
      await client.workflowService.resetStickyTaskQueue({ namespace, execution }).then(
        () => void reset++,
        () => {}, // closed meanwhile, or no sticky queue: nothing to move
      );
    });
  } catch (err) {
    // Only slower: such tasks reach this worker after their sticky timeout.
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'sticky queues of the running workflows not reset');
  }
  log.info({ workflows: executions.length, reset, ms: Date.now() - started }, 'sticky queues of the running workflows reset');
  return reset;
}
