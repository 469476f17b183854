import os from 'node:os';
import type { Command } from 'commander';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { DEFAULT_TASK_QUEUE, type AppConfig } from '../core/config.js';
import { Journal } from '../journal/index.js';
import { ModelRegistry, type RegisteredModel } from '../ml/registry.js';
import { retrainScheduleId, type RetrainInput, type RetrainResult } from '../workflows/retrain-contracts.js';
import type { retrainWorkflow } from '../workflows/retrain.js';
import { table } from './format.js';
import { databaseUrl } from './runtime-file.js';

/**
 * The deployment's retrain schedule (`qt-retrain`), created by `qt start` / `npm start`; an existing one
 * takes the current QT_RETRAIN_SCHEDULE. Overlapping runs are skipped: one retraining at a time.
 */
export async function ensureRetrainSchedule(client: Client, config: AppConfig): Promise<string> {
  const scheduleId = retrainScheduleId(config.taskQueue, DEFAULT_TASK_QUEUE);
  const spec = { cronExpressions: [config.retrain.schedule] };
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action: { type: 'startWorkflow', workflowType: 'retrainWorkflow', workflowId: scheduleId, taskQueue: config.taskQueue, args: [{} satisfies RetrainInput] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
      state: { note: 'the learning loop: retrain, gate, promote (qt retrain --now | --pause | --unpause)' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((s) => ({ ...s, spec }));
  }
  return scheduleId;
}

async function withRegistry<T>(fn: (r: ModelRegistry) => Promise<T>): Promise<T> {
  const journal = await Journal.connect(databaseUrl());
  try {
    return await fn(new ModelRegistry(journal.pool));
  } finally {
    await journal.close();
  }
}

/** The ACTIVE model's line for `qt status`; never fails the command. */
export async function activeModelLine(): Promise<string> {
  try {
    const active = await withRegistry((r) => r.active());
    return active ? `model: ${active.version} (ACTIVE since ${active.promotedAt?.toISOString() ?? '?'}, by ${active.promotedBy ?? '?'})` : 'model: none ACTIVE in the registry (workers use QT_MODEL_DIR)';
  } catch (e) {
    return `model: unknown (${(e as Error).message})`;
  }
}

const figures = (m: RegisteredModel) => {
  const gate = (m.metrics as { gate?: { candidate?: { trades: number; meanNetReturn: number } } }).gate?.candidate;
  return gate ? `${gate.trades} trades, ${(gate.meanNetReturn * 100).toFixed(3)} %/trade` : '';
};

export function registerModelCommands(program: Command, config: () => AppConfig, withClient: <T>(cfg: AppConfig, fn: (c: Client) => Promise<T>) => Promise<T>): void {
  const models = program.command('models').description('the model registry: which model the workers score with');
  const guard = () => ({ liveTrading: config().venue === 'live', allowUnproven: config().allowUnprovenModel });
  const operator = () => `operator ${os.userInfo().username}`;

  models
    .command('list')
    .description('every registered model, newest first, with its status and gate figures')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const rows = await withRegistry((r) => r.list());
      if (o.json) return console.log(JSON.stringify(rows.map(({ card: _card, ...row }) => row), null, 2));
      console.log(table(rows.map((m) => ({
        version: m.version, status: m.status, created: m.createdAt, promotedBy: m.promotedBy, promotedAt: m.promotedAt,
        lastBlock: figures(m), reason: m.reason && m.reason.length > 120 ? `${m.reason.slice(0, 117)}...` : m.reason,
      }))));
    });

  models
    .command('promote <version>')
    .description('make VERSION the ACTIVE model (workers switch within QT_MODEL_REFRESH_SECONDS); live trading refuses a non-promotable card unless QT_ALLOW_UNPROVEN_MODEL=true')
    .action(async (version: string) => {
      const m = await withRegistry((r) => r.promote(version, operator(), 'promoted by hand', guard()));
      console.log(`${m.version} is ACTIVE${m.card.promotable === true ? '' : ' (its card is not promotable: it did not pass the gate)'}`);
    });

  models
    .command('rollback')
    .description('return to the model the ACTIVE one replaced')
    .action(async () => {
      const { from, to } = await withRegistry((r) => r.rollback(operator(), guard()));
      console.log(`rolled back: ${from} -> ${to} (ACTIVE)`);
    });

  program
    .command('retrain')
    .description('the qt-retrain schedule: run it now, pause or unpause it')
    .option('--now', 'trigger a retraining now (skipped while one runs)')
    .option('--wait', 'with --now: wait for the outcome and print it')
    .option('--shuffle-labels', 'with --now: a control run on permuted labels, started outside the schedule (never promoted)')
    .option('--pause', 'pause the schedule')
    .option('--unpause', 'unpause the schedule')
    .action(async (o: { now?: boolean; wait?: boolean; shuffleLabels?: boolean; pause?: boolean; unpause?: boolean }) => {
      const cfg = config();
      const chosen = [o.now, o.pause, o.unpause].filter(Boolean).length;
      if (chosen !== 1) throw new Error('give exactly one of --now, --pause, --unpause');
      await withClient(cfg, async (client) => {
        const handle = client.schedule.getHandle(retrainScheduleId(cfg.taskQueue, DEFAULT_TASK_QUEUE));
        if (o.pause) return void (await handle.pause('qt retrain --pause'), console.log(`${handle.scheduleId} paused`));
        if (o.unpause) return void (await handle.unpause('qt retrain --unpause'), console.log(`${handle.scheduleId} unpaused`));
        const workflowId = o.shuffleLabels ? await startControlRun(client, cfg, handle.scheduleId) : await triggerNow(handle);
        console.log(`retraining started: ${workflowId}`);
        if (o.wait) {
          const result = (await client.workflow.getHandle(workflowId).result()) as RetrainResult;
          console.log(`${result.candidate}: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}; ACTIVE ${result.active ?? 'none'}`);
        }
      });
    });
}

/** Triggers the schedule and returns the id of the workflow it started. */
async function triggerNow(handle: ReturnType<Client['schedule']['getHandle']>): Promise<string> {
  const before = new Set((await handle.describe()).info.recentActions.map((a) => a.action.workflow.workflowId));
  await handle.trigger();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const started = (await handle.describe()).info.recentActions.map((a) => a.action.workflow.workflowId).find((id) => !before.has(id));
    if (started) return started;
    await new Promise((r) => setTimeout(r, 250));
  }
  const running = (await handle.describe()).info.runningActions.map((a) => a.workflow.workflowId);
  throw new Error(`the schedule started nothing${running.length ? `: a retraining is still running (${running.join(', ')})` : ''}`);
}

async function startControlRun(client: Client, cfg: AppConfig, scheduleId: string): Promise<string> {
  const workflowId = `${scheduleId}-control-${new Date().toISOString().replace(/[:.]/g, '')}`;
  await client.workflow.start<typeof retrainWorkflow>('retrainWorkflow', { workflowId, taskQueue: cfg.taskQueue, args: [{ shuffleLabels: true }] });
  return workflowId;
}
