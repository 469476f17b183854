import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { sleep } from './sleep.js';

/** Receives one line of a child's output. */
export type LogFn = (line: string) => void;

/** Asks the kernel for a free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process's command line, or '' when it is gone or unreadable. */
export function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}


/** Sends `signal`, then SIGKILL if the process is still there after `graceMs`. */
export async function terminatePid(pid: number, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/**
 * The environment without venue credentials (BINANCE_API_KEY, BINANCE_API_SECRET, their _FILE forms):
 * servers started as children (Temporal, Postgres, the local exchange) never need them, and a child
 * that dumps or logs its environment must have nothing to leak.
 */
export function withoutVenueKeys(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('BINANCE_')));
}

/**
 * A long-running child whose output goes line by line to `log`, keeping the last lines for error
 * messages. The child is killed when this process exits, however it exits, so a crashed parent
 * leaves no server behind (except on SIGKILL, which no process can intercept).
 */
export class ManagedChild {
  readonly child: ChildProcess;
  private readonly tail: string[] = [];
  private readonly exited: Promise<number | null>;
  private readonly killOnExit: () => void;

  /**
   * `exitSignal` goes to the child if this process exits while the child still runs. The child gets
   * `env` (default: this process's) without venue keys, unless `passVenueKeys` (a worker that trades).
   */
  constructor(command: string, args: string[], options: SpawnOptions & { log?: LogFn; exitSignal?: NodeJS.Signals; passVenueKeys?: boolean }) {
    const { log, exitSignal = 'SIGTERM', passVenueKeys = false, ...spawnOptions } = options;
    const env = spawnOptions.env ?? process.env;
    this.killOnExit = () => this.child.kill(exitSignal);
    this.child = spawn(command, args, { ...spawnOptions, env: passVenueKeys ? env : withoutVenueKeys(env), stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
        log?.(line);
      }
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.tail.push(String(err));
        resolve(null);
      });
      this.child.on('exit', (code) => resolve(code));
    });
    process.once('exit', this.killOnExit);
    void this.exited.then(() => process.removeListener('exit', this.killOnExit));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  /** The last lines the child printed, for error messages. */
  recentOutput(): string {
    return this.tail.join('\n');
  }

  /** Resolves with the exit code when the child exits. */
  waitForExit(): Promise<number | null> {
    return this.exited;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const escalation = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(escalation);
    }
  }
}
