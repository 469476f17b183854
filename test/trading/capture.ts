import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
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
