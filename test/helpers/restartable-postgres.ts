import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type RunningPostgres } from '../../infra/postgres.js';
import { freePort } from '../../infra/process.js';

/**
 * A Postgres server of the test file's own (not the shared one of test/global-setup.ts), for tests
 * that take the database away: stop() and start() keep the data directory and the port, so the URL
 * the agent was given stays valid across an outage.
 */
export interface RestartablePostgres {
  /** postgres://… URL of the `postgres` database; valid across stop/start. */
  readonly url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its data. */
  destroy(): Promise<void>;
}

export async function startRestartablePostgres(): Promise<RestartablePostgres> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qt-pg-'));
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  let running: RunningPostgres | null = await startEmbeddedPostgres({ dataDir, port, ephemeral: true });
  const url = running.url;
  return {
    url,
    async stop() {
      await running?.stop();
      running = null;
    },
    async start() {
      if (running) return;
      running = await startEmbeddedPostgres({ dataDir, port, ephemeral: true });
    },
    async destroy() {
      await running?.stop();
      running = null;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
