import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON, type History } from '@temporalio/common/lib/proto-utils.js';
import { inject } from 'vitest';
import { findTemporalBinary } from '../../infra/temporal.js';

/**
 * With QT_CAPTURE_HISTORIES=1, save a workflow's history (as the `temporal` CLI exports it) under
 * test/fixtures/histories so the replay test keeps checking that future workflow code can continue it.
 */
export async function captureHistory(workflowId: string, name: string): Promise<void> {
  if (process.env.QT_CAPTURE_HISTORIES !== '1') return;
  const cli = findTemporalBinary();
  if (!cli) throw new Error('capturing histories needs the temporal CLI');
  const json = execFileSync(cli, ['workflow', 'show', '--workflow-id', workflowId, '--address', inject('temporalAddress'), '--output', 'json'], { maxBuffer: 64 * 2 ** 20 });
  writeFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'histories', `${name}.json`), json);
}

/**
 * The same for a workflow of any server a test holds a client of (e.g. the time-skipping test server,
 * which the CLI cannot reach): the history read through the client, in the CLI's JSON format.
 */
export async function captureHistoryOf(handle: { fetchHistory(): Promise<History> }, name: string): Promise<void> {
  if (process.env.QT_CAPTURE_HISTORIES !== '1') return;
  writeFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'histories', `${name}.json`), historyToJSON(await handle.fetchHistory()));
}
