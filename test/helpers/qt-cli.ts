import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run the real `qt` command line in its own process. The environment is exactly `env` plus PATH
 * (nothing leaks in from the test process), and QT_STATE_DIR points at an empty directory so no
 * runtime file of a running `npm start` is picked up.
 */
export function runQt(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliResult> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'qt-cli-'));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'client/main.ts', ...args],
      { env: { PATH: process.env.PATH ?? '', QT_STATE_DIR: stateDir, ...env }, timeout: timeoutMs },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}
