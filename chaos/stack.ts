import { execFile } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedChild, freePort } from '../infra/process.js';
import { startEmbeddedPostgres, type RunningPostgres } from '../infra/postgres.js';
import { startTemporalDevServer, type TemporalDevServer } from '../infra/temporal.js';

/**
 * The whole paper stack as separate processes on fixed loopback ports, each of which can be killed or
 * restarted on its own: the Temporal dev server (a SQLite file), Postgres, the local exchange (`qt
 * exchange`, a state file) and the worker (`worker/main.ts`). Data survives restarts; every process's
 * output goes to a log file in the run directory. Used by the chaos run and the secrets test.
 */

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface StackOptions {
  /** Run directory: SQLite file, Postgres data, exchange state, logs. */
  dir: string;
  dataDir: string;
  symbols: string[];
  replaySpeed: number;
  /** Market time (ms) the replay starts at. */
  replayStart: number;
  /** QT_* settings of the worker and of every `qt` command (fleet parameters, signal source, limits). */
  settings: Record<string, string>;
  /** Environment of the worker only, on top of this process's (e.g. venue keys). */
  workerEnv?: Record<string, string>;
}

export interface CommandResult {
  code: number;
  output: string;
}

export class ProcessStack {
  temporal: TemporalDevServer | null = null;
  postgres: RunningPostgres | null = null;
  exchange: ManagedChild | null = null;
  worker: ManagedChild | null = null;
  /** Worker exits the stack did not cause (crashes), with the time they were seen. */
  readonly unexpectedWorkerExits: { at: number; code: number | null; lastOutput: string }[] = [];

  private readonly logs = new Map<string, WriteStream>();
  private expectWorker = false;

  private constructor(
    readonly options: StackOptions,
    readonly ports: { temporal: number; postgres: number; exchange: number; health: number },
  ) {}

  static async start(options: StackOptions): Promise<ProcessStack> {
    const ports = { temporal: await freePort(), postgres: await freePort(), exchange: await freePort(), health: await freePort() };
    const stack = new ProcessStack(options, ports);
    try {
      await Promise.all([stack.startTemporal(), stack.startPostgres(), stack.startExchange()]);
      await stack.startWorker();
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  get temporalAddress(): string {
    return `127.0.0.1:${this.ports.temporal}`;
  }

  get databaseUrl(): string {
    if (!this.postgres) throw new Error('postgres is not running');
    return this.postgres.url;
  }

  get exchangeUrl(): string {
    return `http://127.0.0.1:${this.ports.exchange}`;
  }

  get healthUrl(): string {
    return `http://127.0.0.1:${this.ports.health}`;
  }

  logFile(name: string): string {
    return path.join(this.options.dir, `${name}.log`);
  }

  private log(name: string): (line: string) => void {
    let stream = this.logs.get(name);
    if (!stream) this.logs.set(name, (stream = createWriteStream(this.logFile(name), { flags: 'a' })));
    const s = stream;
    return (line) => s.write(`${line}\n`);
  }

  async startTemporal(): Promise<void> {
    this.temporal = await startTemporalDevServer({
      dbFile: path.join(this.options.dir, 'temporal.sqlite'),
      port: this.ports.temporal,
      uiPort: false,
      retentionDays: 7,
      // A busy machine (the whole stack shares it) can take long to start anything.
      startTimeoutMs: 90_000,
      log: this.log('temporal'),
    });
  }

  async stopTemporal(): Promise<void> {
    await this.temporal?.stop();
    this.temporal = null;
  }

  async startPostgres(): Promise<void> {
    this.postgres = await startEmbeddedPostgres({ dataDir: path.join(this.options.dir, 'postgres'), port: this.ports.postgres, startTimeoutMs: 90_000, log: this.log('postgres') });
  }

  async stopPostgres(): Promise<void> {
    await this.postgres?.stop();
    this.postgres = null;
  }

  /** `qt exchange` in its own process; a restart continues from its state file. */
  async startExchange(): Promise<void> {
    const o = this.options;
    const args = ['--import', 'tsx', 'client/main.ts', 'exchange', '--replay', o.dataDir, '--speed', String(o.replaySpeed), '--start', String(o.replayStart)];
    args.push('--port', String(this.ports.exchange), '--state', path.join(o.dir, 'exchange-state.json'), '--symbols', o.symbols.join(','));
    const { child, ready } = spawnUntilReady('local exchange', args, { log: this.log('exchange'), readyLine: /local exchange listening on/, timeoutMs: 90_000 });
    this.exchange = child;
    await ready;
  }

  async stopExchange(): Promise<void> {
    await this.exchange?.stop('SIGTERM', 15_000);
    this.exchange = null;
  }

  /** Starts the worker process; resolves with the wall time it reported itself started. */
  async startWorker(): Promise<number> {
    const env = {
      ...inheritedEnv(),
      ...this.options.settings,
      ...this.options.workerEnv,
      TEMPORAL_ADDRESS: this.temporalAddress,
      DATABASE_URL: this.databaseUrl,
      QT_EXCHANGE_URL: this.exchangeUrl,
      QT_HEALTH_PORT: String(this.ports.health),
      QT_LOG_FORMAT: 'json',
    };
    // The worker is the process that trades: it gets the venue keys of the environment, if any.
    const { child, ready } = spawnUntilReady('worker', ['--import', 'tsx', 'worker/main.ts'], { env, log: this.log('worker'), readyLine: /"msg":"worker started"/, timeoutMs: 180_000, passVenueKeys: true });
    this.worker = child;
    this.expectWorker = true;
    void child.waitForExit().then((code) => {
      if (this.worker === child && this.expectWorker) {
        this.unexpectedWorkerExits.push({ at: Date.now(), code, lastOutput: child.recentOutput().split('\n').slice(-5).join('\n') });
        this.worker = null;
      }
    });
    return ready;
  }

  /** SIGKILL: the worker gets no chance to finish anything. */
  async killWorker(): Promise<void> {
    this.expectWorker = false;
    const child = this.worker;
    this.worker = null;
    if (child?.running) {
      child.child.kill('SIGKILL');
      await child.waitForExit();
    }
  }

  /** Graceful: lets running activities finish (what Ctrl-C does). */
  async stopWorker(): Promise<void> {
    this.expectWorker = false;
    const child = this.worker;
    this.worker = null;
    await child?.stop('SIGTERM', 20_000);
  }

  /** Restarts a worker that exited by itself (what a process supervisor does); true when it did. */
  async reviveWorker(): Promise<boolean> {
    if (!this.expectWorker || this.worker?.running) return false;
    await this.startWorker();
    return true;
  }

  /** Starts whatever is down (after an event that failed halfway). */
  async ensureRunning(): Promise<void> {
    if (!this.temporal) await this.startTemporal();
    if (!this.postgres) await this.startPostgres();
    if (!this.exchange?.running) await this.startExchange();
    if (!this.worker?.running) await this.startWorker();
  }

  /** Runs the real `qt` command (bin/qt.js) against this stack. */
  qt(args: string[], timeoutMs = 90_000): Promise<CommandResult> {
    const env = { ...inheritedEnv(), ...this.options.settings, TEMPORAL_ADDRESS: this.temporalAddress, DATABASE_URL: this.databaseUrl };
    const log = this.log('qt');
    log(`$ qt ${args.join(' ')}`);
    return new Promise((resolve) => {
      execFile(process.execPath, ['bin/qt.js', ...args], { cwd: REPO_ROOT, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim();
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        for (const line of output.split('\n')) log(line);
        log(`(exit ${code})`);
        resolve({ code, output });
      });
    });
  }

  /** The local exchange's admin API (loopback, unsigned). */
  async admin<T = unknown>(method: 'GET' | 'POST' | 'DELETE', route: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.exchangeUrl}${route}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** Process ids of the servers and the worker (for /proc inspection). */
  pids(): Record<'temporal' | 'postgres' | 'exchange' | 'worker', number | null> {
    return {
      temporal: this.temporal?.pid ?? null,
      postgres: this.postgres ? postmasterPid(path.join(this.options.dir, 'postgres')) : null,
      exchange: this.exchange?.child.pid ?? null,
      worker: this.worker?.child.pid ?? null,
    };
  }

  async stop(): Promise<void> {
    await this.stopWorker().catch(() => {});
    await Promise.allSettled([this.stopExchange(), this.stopTemporal(), this.stopPostgres()]);
    await Promise.all([...this.logs.values()].map((s) => new Promise<void>((resolve) => s.end(resolve))));
    this.logs.clear();
  }
}

/**
 * This process's environment without the agent's own settings (QT_*, TEMPORAL_ADDRESS, DATABASE_URL...):
 * the stack's processes see exactly the settings it gives them, whatever the calling shell exports.
 */
function inheritedEnv(): NodeJS.ProcessEnv {
  const own = /^(QT_|TEMPORAL_ADDRESS$|TEMPORAL_NAMESPACE$|DATABASE_URL$)/;
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !own.test(name)));
}

/**
 * A child whose output goes to `log`; `ready` resolves with the wall time of the first line matching
 * `readyLine`, and fails if the child exits first or takes longer than `timeoutMs`.
 */
function spawnUntilReady(
  what: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; log: (line: string) => void; readyLine: RegExp; timeoutMs: number; passVenueKeys?: boolean },
): { child: ManagedChild; ready: Promise<number> } {
  let markReady: (at: number) => void = () => {};
  const ready = new Promise<number>((resolve) => (markReady = resolve));
  const child = new ManagedChild(process.execPath, args, {
    cwd: REPO_ROOT,
    env: options.env ?? process.env,
    passVenueKeys: options.passVenueKeys ?? false,
    log: (line) => {
      options.log(line);
      if (options.readyLine.test(line)) markReady(Date.now());
    },
  });
  const failed = new Promise<never>((_, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} not ready within ${options.timeoutMs} ms:\n${child.recentOutput()}`)), options.timeoutMs);
    void ready.then(() => clearTimeout(timer));
    void child.waitForExit().then(() => {
      clearTimeout(timer);
      reject(new Error(`${what} exited before it was ready:\n${child.recentOutput()}`));
    });
  });
  failed.catch(() => {});
  return { child, ready: Promise.race([ready, failed]) };
}

/** The postmaster's pid, from the first line of postmaster.pid in its data directory. */
function postmasterPid(dataDir: string): number | null {
  try {
    return Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || null;
  } catch {
    return null;
  }
}
