// Experiment: recovery after SIGKILL with the default workflow task timeout (10 s) vs a short one.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { ProcessStack } from '/work/wt-chaos/chaos/stack.ts';
import { waitUntilEveryLoopTicked } from '/work/wt-chaos/chaos/recovery.ts';
import { loadConfig } from '/work/wt-chaos/core/config.ts';
import { symbolWorkflowId } from '/work/wt-chaos/workflows/contracts.ts';

const wft = process.argv[2]; // e.g. "3s" or "default"
const dir = mkdtempSync(path.join(os.tmpdir(), 'qt-wft-'));
const symbols = ['AAVEUSDT', 'ADAUSDT', 'APTUSDT', 'ARBUSDT', 'AVAXUSDT', 'BCHUSDT', 'BNBUSDT', 'BTCUSDT', 'CHZUSDT', 'CRVUSDT'];
const settings = { QT_SYMBOLS: symbols.join(','), QT_SIGNAL_SOURCE: 'random:1:0.5', QT_CHECK_INTERVAL: '2', QT_COOLDOWN_SECONDS: '5', QT_POSITION_CHECK_SECONDS: '2', QT_MAX_HOLD_SECONDS: '60', QT_TAKE_PROFIT_PCT: '0.5', QT_STOP_LOSS_PCT: '0.4', QT_DAILY_LOSS_LIMIT: '1000000' };
const stack = await ProcessStack.start({ dir, dataDir: '/work/shared/data/binance-futures-5m', symbols, replaySpeed: 30, replayStart: Date.UTC(2025, 7, 10), settings });
const connection = await Connection.connect({ address: stack.temporalAddress });
const client = new Client({ connection });
const config = loadConfig(settings);
for (const symbol of symbols) {
  await client.workflow.start('symbolWorkflow', {
    workflowId: symbolWorkflowId(symbol), taskQueue: config.taskQueue,
    args: [{ symbol, params: config.params, flags: { aiTradingEnabled: true, executionEnabled: true } }],
    ...(wft === 'default' ? {} : { workflowTaskTimeout: wft }),
  });
}
const pool = new pg.Pool({ connectionString: stack.databaseUrl });
await new Promise((r) => setTimeout(r, 20_000));
const out: number[] = [];
for (let i = 0; i < 8; i++) {
  await stack.killWorker();
  const back = await stack.startWorker();
  const r = await waitUntilEveryLoopTicked(pool, symbols, back, 30_000);
  const s = r.silent.length ? NaN : (Math.max(...r.firstTicks.values()) - back) / 1000;
  out.push(s);
  console.log(`kill ${i + 1}: ${s.toFixed(1)} s`);
  await new Promise((r) => setTimeout(r, 5_000));
}
out.sort((a, b) => a - b);
console.log(`wft=${wft}: median ${out[4]} max ${out[7]}`);
await pool.end(); await connection.close(); await stack.stop();
