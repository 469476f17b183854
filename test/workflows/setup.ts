import { randomBytes } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import pino from 'pino';
import { DEFAULT_PARAMS, type TradingParams } from '../../core/params.js';
import type { TradingActivities } from '../../activities/contracts.js';
import { bundleWorkflows } from '../../worker/create-worker.js';
import { riskBookWorkflowId } from '../../workflows/book-contracts.js';
import { riskBookWorkflow } from '../../workflows/risk-book.js';
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

export const uniqueSymbol = (): string => `T${randomBytes(3).toString('hex').toUpperCase()}USDT`;
