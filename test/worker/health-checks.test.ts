import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { WorkerStatus } from '../../activities/worker-status.js';
import { startHealthServer } from '../../worker/health.js';
import { loopsCheck, modelCheck, reconciliationCheck } from '../../worker/health-checks.js';
import type { SignalServiceStatus } from '../../ml/signal-service.js';
import type { ReconcileResult } from '../../workflows/book-contracts.js';

const model = (over: Partial<SignalServiceStatus>): SignalServiceStatus => ({
  model: 'xgb-v1', source: 'primary', dir: 'models/xgb-v1', promotable: false, candlesNeeded: 300, loadErrors: [], scored: 0, batches: 0, lastBatchSize: 0, holds: 0, ...over,
});

const pass = (finishedAt: number): ReconcileResult => ({
  pass: 7, startedAt: finishedAt - 1_000, finishedAt, error: null, suspects: [],
  seen: { exposures: 1, stops: 1, owners: 1, loops: 2, journalOpen: 1, reservations: 1 },
  actions: [{ action: { kind: 'CANCEL_STOP', symbol: 'BTCUSDT', clientAlgoId: 'qt-a-1-S' }, description: 'BTCUSDT: stop qt-a-1-S guards no owned position; cancelling it', outcome: 'DONE', detail: 'cancelled' }],
});

async function getHealth(checks: Parameters<typeof startHealthServer>[2]): Promise<{ status: number; body: Record<string, { status: string; error?: string }> }> {
  const server = await startHealthServer('127.0.0.1', 0, checks, new Registry());
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/health`);
    return { status: res.status, body: (await res.json()) as never };
  } finally {
    server.close();
  }
}

describe('/health', () => {
  it('is 503 when no model is loaded', async () => {
    expect((await getHealth({ model: modelCheck(() => model({})) })).status).toBe(200);
    const down = await getHealth({ model: modelCheck(() => model({ model: null, source: 'none', loadErrors: ['models/xgb-v1: no model.onnx'] })) });
    expect(down.status).toBe(503);
    expect(down.body.model).toEqual({ status: 'down', error: 'no model loaded: models/xgb-v1: no model.onnx' });
  });

  it('is 503 when a loop has not ticked for three intervals', async () => {
    const worker = new WorkerStatus();
    let now = worker.startedAt + 10_000;
    const check = loopsCheck(worker, ['BTCUSDT', 'ETHUSDT'], 15, () => now);
    expect((await getHealth({ loops: check })).status).toBe(200); // just started: not stale yet
    now = worker.startedAt + 46_000;
    worker.tick('BTCUSDT', now - 1_000);
    const down = await getHealth({ loops: check });
    expect(down.status).toBe(503);
    expect(down.body.loops!.error).toMatch(/1 of 2 loop\(s\) have not ticked for 3 intervals \(45 s\): ETHUSDT/);
    worker.tick('ETHUSDT', now);
    expect((await getHealth({ loops: check })).status).toBe(200);
  });

  it('reports the last reconciliation pass, and is 503 when none finished within three periods', async () => {
    const worker = new WorkerStatus();
    let now = worker.startedAt + 1_000;
    const check = reconciliationCheck(worker, 60, () => now);
    expect((await getHealth({ reconciliation: check })).body.reconciliation).toMatchObject({ status: 'up', lastPass: null });
    worker.lastReconciliation = pass(now);
    const up = await getHealth({ reconciliation: check });
    expect(up.status).toBe(200);
    expect(up.body.reconciliation).toMatchObject({ status: 'up', lastPass: 7, actions: ['DONE: BTCUSDT: stop qt-a-1-S guards no owned position; cancelling it'] });
    now += 181_000;
    expect((await getHealth({ reconciliation: check })).status).toBe(503);
  });
});
