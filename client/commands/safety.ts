import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { DEFAULT_TASK_QUEUE, type AppConfig } from '../../core/config.js';
import { mapLimit } from '../../core/map-limit.js';
import { Journal } from '../../journal/index.js';
import { reconcileNowUpdate, reconcileSoonSignal, reconcilerWorkflowId, riskBookStart, setKillSignal, type KillSwitchChange, type ReconcileResult } from '../../workflows/book-contracts.js';
import { closePositionSignal, killSignal, positionWorkflowId, resumeSignal } from '../../workflows/contracts.js';
import type { riskBookWorkflow } from '../../workflows/risk-book.js';
import { connectClient, runningSymbols, symbolHandle } from '../fleet.js';
import { symbol as symbolArg } from '../arguments.js';
import { table } from '../format.js';
import { databaseUrl, temporalAddress } from '../runtime-file.js';
import { withClient } from './trading.js';

/**
 * `qt kill` and `qt resume` read only what they need to reach the servers (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, QT_TASK_QUEUE, DATABASE_URL or the runtime file), never the whole
 * configuration: a kill must work when some other QT_ value is broken. Workflows are signalled first
 * (the server accepts signals even with no worker running); the journal's copy of the global switch
 * is written last and may fail (Postgres down) without failing the kill: the risk book holds the
 * switch and persists it once Postgres answers.
 */
async function withDeployment<T>(fn: (client: Client, taskQueue: string) => Promise<T>): Promise<T> {
  const client = await connectClient(temporalAddress(), process.env.TEMPORAL_NAMESPACE?.trim() || 'default');
  try {
    return await fn(client, process.env.QT_TASK_QUEUE?.trim() || DEFAULT_TASK_QUEUE);
  } finally {
    await client.connection.close();
  }
}

function report(parts: string[], failed: string[]): void {
  console.log(parts.join('; '));
  if (failed.length) console.error(`not reached:\n  ${failed.join('\n  ')}`);
}

async function runningPositionIds(client: Client, taskQueue: string, symbol: string | undefined): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowType = 'positionWorkflow' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue}'` })) ids.push(wf.workflowId);
  return symbol ? ids.filter((id) => id.startsWith(positionWorkflowId(`${symbol}-`))) : ids;
}

/** Signal every target; a failure on one does not stop the others. Returns the failures. */
async function signalAll(ids: string[], send: (id: string) => Promise<unknown>): Promise<string[]> {
  const failed: string[] = [];
  await mapLimit(ids, 16, (id) => send(id).catch((e: Error) => void failed.push(`${id}: ${e.message}`)));
  return failed;
}

/** Write the journal's copy of the global switch; a short timeout, never fatal. */
async function persistSwitch(on: boolean, reason: string): Promise<string> {
  try {
    const journal = await Journal.connect(databaseUrl(), { connectTimeoutMs: 3_000 });
    try {
      await journal.setGlobalKill(on, reason);
    } finally {
      await journal.close();
    }
    return 'journal updated';
  } catch (err) {
    return `journal not updated now (${err instanceof Error ? err.message : String(err)}); the risk book writes it when Postgres answers`;
  }
}

async function setBookSwitch(client: Client, taskQueue: string, change: KillSwitchChange): Promise<string> {
  try {
    await client.workflow.signalWithStart<typeof riskBookWorkflow, [KillSwitchChange]>('riskBookWorkflow', {
      ...riskBookStart(taskQueue),
      signal: setKillSignal,
      signalArgs: [change],
    });
    return `risk book kill switch ${change.on ? 'ON' : 'OFF'}`;
  } catch (err) {
    return `risk book NOT reached: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function printReconcile(r: ReconcileResult): string {
  const lines = [
    `reconciliation pass ${r.pass} (${new Date(r.startedAt).toISOString()} .. ${new Date(r.finishedAt).toISOString()})`,
    r.error
      ? `observation failed: ${r.error}`
      : `seen: ${r.seen.exposures} exchange position(s), ${r.seen.stops} open stop(s), ${r.seen.owners} position workflow(s), ${r.seen.loops} loop(s), ` +
        `${r.seen.journalOpen ?? 'unknown'} OPEN journal row(s), ${r.seen.reservations ?? 'unknown'} reservation(s)`,
  ];
  if (r.actions.length) lines.push('actions:', table(r.actions.map((a) => ({ outcome: a.outcome, action: a.description, detail: a.detail }))));
  if (r.suspects.length) lines.push('suspects (acted on if the next look agrees):', ...r.suspects.map((s) => `  ${s.description}`));
  if (!r.error && !r.actions.length && !r.suspects.length) lines.push('everything owned, protected and journaled: nothing to do');
  return lines.join('\n');
}

export function registerSafetyCommands(program: Command, config: () => AppConfig): void {
  program
    .command('kill')
    .description('halt new entries: every loop and open position (or one symbol), then the global switch')
    .option('--symbol <symbol>', 'only this symbol', symbolArg)
    .option('--flatten', 'also close open positions at market (directly on the exchange when their workflow is gone)')
    .option('--reason <text>', 'why', 'operator kill')
    .action(async (o: { symbol?: string; flatten?: boolean; reason: string }) => {
      const symbol = o.symbol;
      await withDeployment(async (client, taskQueue) => {
        const symbols = symbol ? [symbol] : await runningSymbols(client, taskQueue);
        const failed = await signalAll(symbols, (s) => symbolHandle(client, s).signal(killSignal, { flatten: !!o.flatten, reason: o.reason }));
        // Positions are told directly too: a loop that is busy, stuck or gone does not delay them.
        const positions = o.flatten ? await runningPositionIds(client, taskQueue, symbol) : [];
        const failedPositions = await signalAll(positions, (id) => client.workflow.getHandle(id).signal(closePositionSignal, { reason: 'KILL_FLATTEN' }));
        const parts = [`kill${o.flatten ? ' + flatten' : ''} sent to ${symbols.length - failed.length} symbol workflow(s)${o.flatten ? ` and ${positions.length - failedPositions.length} position workflow(s)` : ''}`];
        if (!symbol) {
          parts.push(await setBookSwitch(client, taskQueue, { on: true, reason: o.reason, flatten: !!o.flatten }));
          if (o.flatten) await client.workflow.getHandle(reconcilerWorkflowId(taskQueue)).signal(reconcileSoonSignal).catch(() => undefined);
          parts.push(await persistSwitch(true, o.reason));
        }
        report(parts, [...failed, ...failedPositions]);
      });
    });

  program
    .command('resume')
    .description('allow new entries again (every loop and the global switch, or one symbol)')
    .option('--symbol <symbol>', 'only this symbol', symbolArg)
    .action(async (o: { symbol?: string }) => {
      const symbol = o.symbol;
      await withDeployment(async (client, taskQueue) => {
        // The global switch first: a loop resumed while the book still says "killed" would only be refused.
        const book = symbol ? [] : [await setBookSwitch(client, taskQueue, { on: false, reason: 'operator resume' })];
        const symbols = symbol ? [symbol] : await runningSymbols(client, taskQueue);
        const failed = await signalAll(symbols, (s) => symbolHandle(client, s).signal(resumeSignal));
        const journal = symbol ? [] : [await persistSwitch(false, 'operator resume')];
        report([`resume sent to ${symbols.length - failed.length} symbol workflow(s)`, ...book, ...journal], failed);
      });
    });

  program
    .command('reconcile')
    .description('run a reconciliation pass now (exchange vs position workflows vs journal) and print what it found and did')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const cfg = config();
      await withClient(cfg, async (c) => {
        const result = await c.workflow.getHandle(reconcilerWorkflowId(cfg.taskQueue)).executeUpdate(reconcileNowUpdate);
        console.log(o.json ? JSON.stringify(result, null, 2) : printReconcile(result));
      });
    });
}
