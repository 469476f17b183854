import { createRequire } from 'node:module';
import path from 'node:path';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { TradingActivities } from '../activities/contracts.js';
import { cachedWorkflowBundle } from './workflow-bundle-cache.js';

const require = createRequire(import.meta.url);

/** The workflow code's bundle: built once per source version (slow: seconds) and reused from disk after that. */
export async function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return cachedWorkflowBundle(path.resolve(import.meta.dirname, '..'), () => bundleWorkflowCode({ workflowsPath: require.resolve('../workflows/index.ts'), logger: quietBundlerLogger }));
}

const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (m: string) => console.warn(m),
  error: (m: string) => console.error(m),
};

export interface TradingWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: TradingActivities;
  workflowBundle?: WorkflowBundleWithSourceMap;
  /** Workflows kept in memory; each symbol and each open position is one. */
  maxCachedWorkflows?: number;
}

export async function createTradingWorker(o: TradingWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue,
    workflowBundle: o.workflowBundle ?? (await bundleWorkflows()),
    activities: o.activities,
    maxCachedWorkflows: o.maxCachedWorkflows ?? 2_000,
    // After a worker dies, its sticky workflows wait this long before another worker takes them.
    stickyQueueScheduleToStartTimeout: '3s',
    maxConcurrentActivityTaskExecutions: 200,
    // A tick's workflow task stays open while its local activities run (market data, inference,
    // journal), so a fleet needs more concurrent workflow tasks than the default 40, and two
    // workflow threads use both cores (bench:fleet: p99 lateness at 200 symbols 3.0 s -> 0.8 s).
    maxConcurrentWorkflowTaskExecutions: 100,
    maxConcurrentLocalActivityExecutions: 200,
    workflowThreadPoolSize: 2,
    shutdownGraceTime: '10s',
  });
}
