import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import type { AppConfig } from '../core/config.js';
import { mapLimit } from '../core/map-limit.js';
import type { symbolWorkflow } from '../workflows/symbol.js';
import { WORKFLOW_TASK_TIMEOUT, symbolStateQuery, symbolWorkflowId } from '../workflows/contracts.js';
import { SA_SYMBOL } from '../workflows/search-attributes.js';
import { loadStrategy, withStrategyExits } from '../strategies/index.js';

export async function connectClient(address: string, namespace: string): Promise<Client> {
  const connection = await Connection.connect({ address, connectTimeout: '5s' });
  return new Client({ connection, namespace });
}

/**
 * Make sure every configured symbol has a running loop. Idempotent: a symbol whose workflow is
 * already running is left alone, so running it twice starts nothing new.
 */
export async function ensureFleet(client: Client, config: AppConfig, symbols = config.symbols): Promise<{ started: string[]; running: string[] }> {
  const started: string[] = [];
  const running: string[] = [];
  const params = withStrategyExits(config.params, await loadStrategy(config.strategy), process.env);
  await mapLimit(symbols, 16, async (symbol) => {
    const workflowId = symbolWorkflowId(symbol);
    if (await isRunning(client, workflowId)) {
      running.push(symbol);
      return;
    }
    await client.workflow.start<typeof symbolWorkflow>('symbolWorkflow', {
      workflowId,
      taskQueue: config.taskQueue,
      args: [{ symbol, params, flags: { aiTradingEnabled: config.enableAiTrading, executionEnabled: config.enableExecution } }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
      typedSearchAttributes: [{ key: SA_SYMBOL, value: symbol }],
      staticSummary: `${symbol} signal loop`,
    });
    started.push(symbol);
  });
  return { started: started.sort(), running: running.sort() };
}

export async function isRunning(client: Client, workflowId: string): Promise<boolean> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    return d.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** Symbols of running symbol workflows (of one task queue, i.e. one deployment, when given), from visibility. */
export async function runningSymbols(client: Client, taskQueue?: string): Promise<string[]> {
  const out: string[] = [];
  const scope = taskQueue ? ` AND TaskQueue = '${taskQueue}'` : '';
  for await (const wf of client.workflow.list({ query: `WorkflowType = 'symbolWorkflow' AND ExecutionStatus = 'Running'${scope}` })) {
    out.push(wf.workflowId.replace(/^qt-symbol-/, ''));
  }
  return out.sort();
}

export function symbolHandle(client: Client, symbol: string): WorkflowHandle<typeof symbolWorkflow> {
  return client.workflow.getHandle<typeof symbolWorkflow>(symbolWorkflowId(symbol));
}

export async function querySymbol(client: Client, symbol: string) {
  return symbolHandle(client, symbol).query(symbolStateQuery);
}
