import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../infra/process.js';
import { symbolStateQuery, symbolWorkflowId } from '../../workflows/contracts.js';
import { sleep } from '../../infra/sleep.js';

/**
 * `npm start` as a user runs it, stopped as a terminal's Ctrl-C stops it: SIGINT to the whole
 * process group. The worker must drain while Temporal and Postgres still serve, then everything
 * stops and nothing of the stack is left; the next start resumes the same workflows.
 */

const root = path.resolve(import.meta.dirname, '../..');
const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];

interface Started {
  child: ChildProcess;
  output: string[];
  /** When each line arrived (ms since epoch), parallel to `output`. */
  arrivals: number[];
  exited: Promise<number | null>;
}

function startStack(stateDir: string): Promise<Started> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    QT_STATE_DIR: stateDir,
    QT_TEMPORAL_PORT: '0',
    QT_TEMPORAL_UI_PORT: '0',
    QT_HEALTH_PORT: '0',
    QT_SYMBOLS: SYMBOLS.join(','),
    QT_DATA_DIR: path.join(root, 'test/fixtures/ml-slice'),
    QT_CHECK_INTERVAL: '2',
    QT_LOG_FORMAT: 'json',
  };
  for (const name of ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'QT_EXCHANGE_URL', 'QT_REPLAY_DIR']) delete env[name];
  // Its own process group, like a shell job: the test can signal the group as a terminal does.
  const child = spawn('npm', ['start', '--silent'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const arrivals: number[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        output.push(line);
        arrivals.push(Date.now());
        if (line.includes('symbol workflow(s) started')) resolve({ child, output, arrivals, exited });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`npm start exited (${code}) before the fleet started:\n${output.slice(-30).join('\n')}`)));
  });
}

/** Every process whose command line names the state dir (the dev server's SQLite file, Postgres's data dir). */
function processesUsing(dir: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(dir)) found.push({ pid: Number(entry), cmd });
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

/** The process group of a pid (field 5 of /proc/PID/stat, after the parenthesised command name). */
function processGroupOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

function processesInGroup(pgid: number): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (processGroupOf(Number(entry)) === pgid) found.push({ pid: Number(entry), cmd: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ') });
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends the terminal's SIGINT and returns when each watched pid was last seen alive. */
async function stopWithCtrlC(stack: Started, watch: number[] = []): Promise<Map<number, number>> {
  const lastSeen = new Map<number, number>();
  let done = false;
  const poll = (async () => {
    while (!done) {
      for (const pid of watch) if (isAlive(pid)) lastSeen.set(pid, Date.now());
      await sleep(10);
    }
  })();
  process.kill(-stack.child.pid!, 'SIGINT');
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 60_000));
  const result = await Promise.race([stack.exited, timeout]);
  done = true;
  await poll;
  if (result === 'timeout') throw new Error(`npm start did not stop within 60 s:\n${stack.output.slice(-30).join('\n')}`);
  return lastSeen;
}

async function tickSeqs(stateDir: string): Promise<Record<string, number>> {
  const runtime = JSON.parse(readFileSync(path.join(stateDir, 'runtime.json'), 'utf8')) as { temporalAddress: string };
  const connection = await Connection.connect({ address: runtime.temporalAddress });
  try {
    const client = new Client({ connection });
    const seqs: Record<string, number> = {};
    for (const symbol of SYMBOLS) seqs[symbol] = (await client.workflow.getHandle(symbolWorkflowId(symbol)).query(symbolStateQuery)).tickSeq;
    return seqs;
  } finally {
    await connection.close();
  }
}

interface LogLine {
  level: number;
  msg: string;
}
const parse = (lines: string[]): LogLine[] =>
  lines.map((l) => {
    try {
      const { level, msg } = JSON.parse(l) as Partial<LogLine>;
      return { level: level ?? 30, msg: String(msg ?? l) };
    } catch {
      return { level: 30, msg: l };
    }
  });
const messages = (lines: string[]) => parse(lines).map((l) => l.msg);

describe('Ctrl-C on npm start', () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'qt-clean-stop-'));
  let current: Started | null = null;
  afterAll(() => {
    if (current?.child.pid && groupAlive(current.child.pid)) process.kill(-current.child.pid, 'SIGKILL');
    for (const p of processesUsing(stateDir)) process.kill(p.pid, 'SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('drains the worker, stops every server in order, leaves no process, and the next start resumes', async () => {
    current = await startStack(stateDir);
    const first = current;
    const servers = processesUsing(stateDir);
    // The dev server (SQLite file under the state dir) and the postmaster (data dir under it).
    expect(servers.some((p) => p.cmd.includes('start-dev')), servers.map((p) => p.cmd).join('\n')).toBe(true);
    expect(servers.some((p) => p.cmd.includes(path.join(stateDir, 'postgres'))), servers.map((p) => p.cmd).join('\n')).toBe(true);
    // No tsx CLI wrapper in the group: it relays a SIGINT to its child and SIGKILLs the child when that
    // does not acknowledge within 30 ms, which a busy stack (many symbols) fails, leaving the servers behind.
    const group = processesInGroup(first.child.pid!);
    expect(group.filter((p) => /tsx\/dist\/cli|\.bin\/tsx /.test(p.cmd)), group.map((p) => p.cmd).join('\n')).toEqual([]);
    // The servers are out of the terminal's process group, so its Ctrl-C reaches only our process.
    for (const p of servers) expect(processGroupOf(p.pid), p.cmd).not.toBe(first.child.pid);
    // Let the loops tick a few times, so there is history to resume from.
    await sleep(5_000);
    const before = await tickSeqs(stateDir);

    const lastSeen = await stopWithCtrlC(first, servers.map((p) => p.pid));
    const log = messages(first.output);
    // The servers were still there when the worker had drained (a SIGINT reaching them directly
    // would have stopped them under the draining worker).
    const drainedAt = first.arrivals[log.findIndex((m) => m.startsWith('worker drained'))];
    expect(drainedAt, log.join('\n')).toBeDefined();
    for (const p of servers) expect(lastSeen.get(p.pid) ?? 0, `${p.cmd} stopped before the worker drained`).toBeGreaterThanOrEqual(drainedAt! - 50);
    // Order: the worker drained first, then the servers went, and the process said it had stopped.
    const draining = log.findIndex((m) => m.includes('draining the worker'));
    expect(draining, log.join('\n')).toBeGreaterThanOrEqual(0);
    expect(log.slice(draining).some((m) => m === 'stopped'), log.join('\n')).toBe(true);
    // Nothing failed on the way down (a dev server dying under the worker shows as warnings here).
    const problems = parse(first.output).slice(draining).filter((l) => l.level >= 40);
    expect(problems.map((l) => l.msg)).toEqual([]);
    // A disabled endpoint is not announced.
    expect(log.some((m) => m.includes('localhost:0')), log.join('\n')).toBe(false);
    expect(groupAlive(first.child.pid!)).toBe(false);
    for (const p of servers) expect(isAlive(p.pid), `${p.pid} ${p.cmd}`).toBe(false);
    expect(processesUsing(stateDir)).toEqual([]);
    expect(existsSync(path.join(stateDir, 'postgres', 'postmaster.pid'))).toBe(false);
    expect(existsSync(path.join(stateDir, 'runtime.json'))).toBe(false);

    current = await startStack(stateDir);
    expect(messages(current.output).join('\n')).toContain(`fleet: 0 symbol workflow(s) started, ${SYMBOLS.length} resumed`);
    const after = await tickSeqs(stateDir);
    for (const symbol of SYMBOLS) expect(after[symbol]!, symbol).toBeGreaterThanOrEqual(before[symbol]!);
    await stopWithCtrlC(current);
    expect(processesUsing(stateDir)).toEqual([]);
  }, 240_000);
});
