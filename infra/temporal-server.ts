import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { Connection } from '@temporalio/client';
import { ManagedChild, freePort, type LogFn } from './process.js';
import { sleep } from './sleep.js';

/**
 * The production Temporal server (`temporal-server`, from go.temporal.io/server) outside Docker: the
 * same version as docker-compose.yml, on Postgres, with several history shards. Used by
 * `npm run stack:production-check` to prove the compose topology on a machine without Docker.
 */

const ROOT = path.resolve(import.meta.dirname, '..');

/** The server version docker-compose.yml pins (`temporalio/server:${TEMPORAL_VERSION:-X}`). */
export function composeTemporalVersion(composeFile = path.join(ROOT, 'docker-compose.yml')): string {
  const compose = parse(readFileSync(composeFile, 'utf8'), { merge: true }) as { services: Record<string, { image?: string }> };
  const image = compose.services.temporal?.image ?? '';
  const version = /^temporalio\/server:\$\{TEMPORAL_VERSION:-([0-9.]+)\}$/.exec(image)?.[1];
  if (!version) throw new Error(`docker-compose.yml: the temporal service's image "${image}" does not pin temporalio/server:\${TEMPORAL_VERSION:-X.Y.Z}`);
  return version;
}

export interface ServerBinaries {
  server: string;
  sqlTool: string;
  /** Where they came from: PATH, the cache, or a build just now. */
  origin: 'PATH' | 'cache' | 'built';
  buildSeconds?: number;
}

const isExecutable = (file: string) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  return null;
}

/** Outside the clone, so every clone (and a fresh one) reuses one build. */
export function cacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'quantum-trader');
}

/**
 * `temporal-server` and `temporal-sql-tool`: both on PATH, else built once (about 6 minutes on two
 * cores, at low priority) with `go install go.temporal.io/server/cmd/{server,tools/sql}@vVERSION` into
 * the cache. A build that dies halfway leaves nothing the next run would mistake for a finished one.
 */
export async function temporalServerBinaries(version: string, log: LogFn): Promise<ServerBinaries> {
  const server = onPath('temporal-server');
  const sqlTool = onPath('temporal-sql-tool');
  if (server && sqlTool) return { server, sqlTool, origin: 'PATH' };

  const dir = path.join(cacheDir(), `temporal-server-v${version}`);
  const binaries = { server: path.join(dir, 'temporal-server'), sqlTool: path.join(dir, 'temporal-sql-tool') };
  if (isExecutable(binaries.server) && isExecutable(binaries.sqlTool)) return { ...binaries, origin: 'cache' };

  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error('no temporal-server and temporal-sql-tool on PATH, and no `go` to build them (https://go.dev/dl/, or put both binaries on PATH)');
  }
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  log(`building Temporal server v${version} from go.temporal.io/server into ${dir} (once; about 6 minutes on two cores)`);
  const started = Date.now();
  const pkgs = ['cmd/server', 'cmd/tools/sql'].map((p) => `go.temporal.io/server/${p}@v${version}`);
  const code = await new Promise<number | null>((resolve) => {
    // GOTOOLCHAIN=local: never download a Go toolchain; a too old Go fails with a clear message instead.
    const child = spawn('nice', ['-n', '15', 'go', 'install', ...pkgs], { env: { ...process.env, GOBIN: partial, GOTOOLCHAIN: 'local' }, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', resolve);
    child.on('error', () => resolve(null));
  });
  if (code !== 0) throw new Error(`go install of Temporal server v${version} failed (exit ${code})`);
  renameSync(path.join(partial, 'server'), path.join(partial, 'temporal-server'));
  renameSync(path.join(partial, 'sql'), path.join(partial, 'temporal-sql-tool'));
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return { ...binaries, origin: 'built', buildSeconds: Math.round((Date.now() - started) / 1000) };
}

export interface PostgresEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** Runs docker/temporal-schema.sh (what the compose stack's temporal-schema service runs) with this sql tool. */
export function setUpTemporalSchema(sqlTool: string, db: PostgresEndpoint, log: LogFn): void {
  const output = execFileSync('sh', [path.join(ROOT, 'docker', 'temporal-schema.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PATH: `${path.dirname(sqlTool)}${path.delimiter}${process.env.PATH ?? ''}`,
      POSTGRES_SEEDS: db.host,
      DB_PORT: String(db.port),
      POSTGRES_USER: db.user,
      POSTGRES_PWD: db.password,
    },
  });
  for (const line of output.split('\n')) if (line.startsWith('temporal-schema:')) log(line);
}

export interface TemporalServerOptions {
  binary: string;
  db: PostgresEndpoint;
  /** History shards: fixed for the life of a cluster; more than one so history is spread as in production. */
  historyShards: number;
  /** Directory for the rendered config file. */
  workDir: string;
  log?: LogFn;
}

export interface RunningTemporalServer {
  address: string;
  pid: number;
  configFile: string;
  /** Resolves once the frontend answers; rejects with the server's output if it exits first. */
  serving(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The server's configuration for this machine: all four services in one process on loopback (free
 * ports), persistence and visibility on the given Postgres, and the compose stack's dynamic config.
 */
async function renderConfig(o: TemporalServerOptions): Promise<{ file: string; frontendPort: number }> {
  const [frontend, frontendHttp, history, matching, worker] = await Promise.all(Array.from({ length: 5 }, () => freePort()));
  // The cluster_membership table stores membership ports as smallint: they must stay below 32768,
  // under the range the kernel hands out for port 0.
  const [frontendMember, historyMember, matchingMember, workerMember] = await freePortsBelow(32_768, 4);
  const store = (database: string, maxConns: number) => `
      sql:
        pluginName: postgres12
        databaseName: ${database}
        connectAddr: "${o.db.host}:${o.db.port}"
        connectProtocol: tcp
        user: ${o.db.user}
        password: ${o.db.password}
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: 1h`;
  const service = (grpc: number, membership: number, http?: number) => `
    rpc:
      grpcPort: ${grpc}
      membershipPort: ${membership}
      bindOnLocalHost: true${http ? `\n      httpPort: ${http}` : ''}`;
  const text = `# Rendered by infra/temporal-server.ts for the production check.
log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: ${o.historyShards}
  datastores:
    default:${store('temporal', 20)}
    visibility:${store('temporal_visibility', 10)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:${service(frontend!, frontendMember!, frontendHttp)}
  history:${service(history!, historyMember!)}
  matching:${service(matching!, matchingMember!)}
  worker:${service(worker!, workerMember!)}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:${frontend}"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: ${path.join(ROOT, 'docker', 'temporal-dynamicconfig.yaml')}
  pollInterval: 10s
`;
  mkdirSync(o.workDir, { recursive: true });
  const file = path.join(o.workDir, 'temporal-server.yaml');
  writeFileSync(file, text);
  return { file, frontendPort: frontend! };
}

/** `count` distinct free loopback ports in [20000, limit), probed at random. */
async function freePortsBelow(limit: number, count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) {
    const port = 20_000 + Math.floor(Math.random() * (limit - 20_000));
    if (!ports.has(port) && (await canListen(port))) ports.add(port);
  }
  return [...ports];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Starts `temporal-server start` in its own process group; resolves once it is spawned (not yet serving). */
export async function startTemporalServer(o: TemporalServerOptions): Promise<RunningTemporalServer> {
  if (!existsSync(o.binary)) throw new Error(`${o.binary} does not exist`);
  const { file, frontendPort } = await renderConfig(o);
  const child = new ManagedChild(o.binary, ['--config-file', file, '--allow-no-auth', 'start'], { log: o.log, detached: true });
  const address = `127.0.0.1:${frontendPort}`;
  const serving = async (timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!child.running) throw new Error(`temporal-server exited:\n${child.recentOutput()}`);
      try {
        const connection = await Connection.connect({ address, connectTimeout: 1_000 });
        try {
          await connection.workflowService.getSystemInfo({});
          return;
        } finally {
          await connection.close();
        }
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`temporal-server at ${address} did not answer within ${timeoutMs / 1000} s: ${String(err)}\n${child.recentOutput()}`);
        await sleep(300);
      }
    }
  };
  return { address, pid: child.child.pid ?? 0, configFile: file, serving, stop: () => child.stop('SIGTERM', 20_000) };
}
