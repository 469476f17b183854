import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetStickyQueues } from '../../worker/sticky-reset.js';
import { sleep } from '../../infra/sleep.js';
import { connectTestClient, uniqueTaskQueue, uniqueWorkflowId, type TestClient } from '../helpers/temporal.js';

/**
 * A starting worker sends the running workflows of its task queue back to the shared queue (the dead worker's
 * sticky queue would hold their next tasks for the sticky timeout). On the real dev server: every running workflow of
 * the queue is found through visibility and reset; other queues' are left alone.
 */
describe('sticky queues reset at worker start', () => {
  let t: TestClient;
  beforeAll(async () => {
    t = await connectTestClient();
  });
  afterAll(async () => t?.close());

  it('resets every running workflow of the task queue, and none of another', async () => {
    const taskQueue = uniqueTaskQueue('sticky');
    const other = uniqueTaskQueue('sticky-other');
    const ids = [uniqueWorkflowId('sticky-a'), uniqueWorkflowId('sticky-b')];
    // No worker polls these queues: the workflows stay running with their first task pending.
    for (const workflowId of ids) await t.client.workflow.start('nothing', { workflowId, taskQueue });
    await t.client.workflow.start('nothing', { workflowId: uniqueWorkflowId('sticky-c'), taskQueue: other });
    const log = pino({ level: 'silent' });
    // Visibility lists a new workflow a moment after its start.
    let reset = 0;
    for (let i = 0; i < 50 && reset < ids.length; i++, await sleep(100)) reset = await resetStickyQueues(t.client, t.namespace, taskQueue, log);
    expect(reset).toBe(ids.length);
    for (const workflowId of ids) await t.client.workflow.getHandle(workflowId).terminate('test over');
    expect(await resetStickyQueues(t.client, t.namespace, taskQueue, log)).toBe(0);
  });
});
