import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { MarketEventsPort } from '../activities/deps.js';
import type { AppConfig } from '../core/config.js';
import { sendArmedExit, type ArmedExitClaims } from '../activities/stream-exit.js';
import type { FuturesExchange } from '../exchange/types.js';
import { ExitWatcher } from '../market/exit-watcher.js';
import { DEFAULT_WAKE_GAP_MS, LoopWaker } from '../market/loop-waker.js';
import type { MarketDataService } from '../market/market-data-service.js';
import { exitCrossedSignal, exitWatchResetSignal, marketWakeSignal, symbolWorkflowId } from '../workflows/contracts.js';

/** A watch of exit levels not refreshed for this long is dropped: three slow polls of its position workflow. */
const EXIT_WATCH_TTL_MS = 180_000;

export interface MarketEvents {
  waker: LoopWaker;
  exits: ExitWatcher;
  /** What the activities see. */
  port: MarketEventsPort;
  /** Ask every running position workflow of the task queue to register its exit watch (after a worker start). */
  reregisterPositions(taskQueue: string): Promise<number>;
  close(): void;
}

/**
 * Event-driven mode in the worker: the market-data service's events wake the symbol loops and watch the open
 * positions' exit levels; both reach the workflows as signals through the worker's Temporal client.
 */
export function startMarketEvents(
  config: Pick<AppConfig, 'eventMovePct'>,
  md: MarketDataService,
  client: Client,
  exchange: FuturesExchange,
  claims: ArmedExitClaims,
  log: Logger,
  tuning: { wakeWindow?: number } = {},
): MarketEvents {
  const waker = new LoopWaker(md, {
    movePct: config.eventMovePct,
    minGapMs: DEFAULT_WAKE_GAP_MS,
    ...(tuning.wakeWindow ? { window: tuning.wakeWindow } : {}),
    log: log.child({ component: 'loop-waker' }),
    send: (symbol, reasons) => client.workflow.getHandle(symbolWorkflowId(symbol)).signal(marketWakeSignal, { reasons }),
  });
  const exits = new ExitWatcher(md, {
    crossed: (workflowId, crossing) => client.workflow.getHandle(workflowId).signal(exitCrossedSignal, crossing),
    sendExit: (req, armed) => sendArmedExit(exchange, claims, req, armed),
    reset: (workflowId, reason) => client.workflow.getHandle(workflowId).signal(exitWatchResetSignal, { reason }),
    log: log.child({ component: 'exit-watcher' }),
    ttlMs: EXIT_WATCH_TTL_MS,
  });
  return {
    waker,
    exits,
    port: {
      loopEvaluated: (symbol) => waker.loopEvaluated(symbol),
      watchExits: (req) => exits.watchExits(req),
      unwatchExits: (positionId) => exits.unwatchExits(positionId),
    },
    async reregisterPositions(taskQueue) {
      let n = 0;
      try {
        const query = `WorkflowType = 'positionWorkflow' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue}'`;
        for await (const wf of client.workflow.list({ query })) {
          await client.workflow.getHandle(wf.workflowId).signal(exitWatchResetSignal, { reason: 'worker started' }).then(() => n++, () => {});
        }
      } catch (err) {
        // Each position registers again at its next poll anyway.
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'running positions not asked to register their exit watches');
      }
      return n;
    },
    close() {
      waker.close();
      exits.close();
    },
  };
}
