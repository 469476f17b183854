import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveDatabase, startEmbeddedPostgres } from '../../infra/postgres.js';
import { sharedDatabaseUrl } from '../helpers/db.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'qt-pg-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('startEmbeddedPostgres', () => {
  it('keeps its data across a stop and a second start', async () => {
    const dataDir = path.join(tmp, 'cluster');
    const first = await startEmbeddedPostgres({ dataDir, port: 0 });
    try {
      await query(first.url, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
    } finally {
      await first.stop();
    }
    await expect(query(first.url, 'SELECT 1')).rejects.toThrow();

    const second = await startEmbeddedPostgres({ dataDir, port: 0 });
    try {
      expect(await query<{ n: number }>(second.url, 'SELECT n FROM kept')).toEqual([{ n: 42 }]);
      expect(await query(second.url, 'SELECT host(inet_server_addr()) AS addr')).toEqual([{ addr: '127.0.0.1' }]);
    } finally {
      await second.stop();
    }
  });
});

// CI machines may have no `postgres` OS user; as root the cluster creates the user it runs as.
describe.runIf(process.getuid?.() === 0)('as root on a machine without the OS user', () => {
  const osUser = `qtpg${Date.now().toString(36).slice(-6)}`;
  afterAll(() => {
    try {
      execFileSync('userdel', [osUser], { stdio: 'ignore' });
    } catch {
      /* never created */
    }
  });

  it('creates the user and runs the server as that user', async () => {
    expect(() => execFileSync('id', ['-u', osUser], { stdio: 'ignore' })).toThrow();
    const dataDir = path.join(tmp, 'fresh-user', 'data');
    const server = await startEmbeddedPostgres({ dataDir, port: 0, osUser });
    try {
      const uid = Number(execFileSync('id', ['-u', osUser], { encoding: 'utf8' }).trim());
      expect(statSync(dataDir).uid).toBe(uid);
      expect(await query(server.url, 'SELECT current_user AS who')).toEqual([{ who: 'postgres' }]);
    } finally {
      await server.stop();
    }
  });
});

describe('resolveDatabase', () => {
  it('uses DATABASE_URL as given and starts nothing', async () => {
    const url = sharedDatabaseUrl();
    const resolved = await resolveDatabase({ databaseUrl: url, dataDir: path.join(tmp, 'unused') });
    expect(resolved.url).toBe(url);
    await resolved.stop(); // must not stop the shared server
    expect(await query(url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
