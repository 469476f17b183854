import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.js';
import { ensureSearchAttributes, findTemporalBinary, prepareExistingServer, startTemporalDevServer } from '../../infra/temporal.js';
import { connectTestClient, createTestNamespace, temporalAddress, uniqueTaskQueue } from '../helpers/temporal.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'qt-temporal-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function fakeBinary(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'temporal');
  writeFileSync(file, '#!/bin/sh\n');
  chmodSync(file, 0o755);
  return file;
}

const portIsOpen = (address: string) =>
  new Promise<boolean>((resolve) => {
    const [host, port] = address.split(':');
    const socket = net.connect(Number(port), host!, () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });

describe('findTemporalBinary', () => {
  const root = path.join(tmp, 'project');
  const venvBinary = fakeBinary(path.join(root, '.venv', 'bin'));
  const pathBinary = fakeBinary(path.join(tmp, 'on-path'));
  const explicit = fakeBinary(path.join(tmp, 'explicit'));

  it('prefers TEMPORAL_CLI_PATH, then PATH, then the project venv', () => {
    expect(findTemporalBinary({ TEMPORAL_CLI_PATH: explicit, PATH: path.dirname(pathBinary) }, root)).toBe(explicit);
    expect(findTemporalBinary({ PATH: `/nonexistent:${path.dirname(pathBinary)}` }, root)).toBe(pathBinary);
    expect(findTemporalBinary({ PATH: '/nonexistent' }, root)).toBe(venvBinary);
  });

  it('returns null when nothing is found, and for a TEMPORAL_CLI_PATH that is not executable', () => {
    expect(findTemporalBinary({ PATH: '/nonexistent' }, path.join(tmp, 'empty'))).toBeNull();
    expect(findTemporalBinary({ TEMPORAL_CLI_PATH: path.join(tmp, 'missing'), PATH: path.dirname(pathBinary) }, root)).toBeNull();
  });
});

describe('startTemporalDevServer', () => {
  it('starts with the search attributes and retention, and stops', async () => {
    const server = await startTemporalDevServer({ port: 0, uiPort: false, retentionDays: 30, dbFile: path.join(tmp, 'dev.sqlite') });
    try {
      expect(server.uiUrl).toBeNull();
      // The file runs in write-ahead-log mode (SQLITE_PRAGMAS): its log sits beside it while the server runs.
      expect(existsSync(path.join(tmp, 'dev.sqlite-wal'))).toBe(true);
      const connection = await Connection.connect({ address: server.address });
      try {
        const ns = await connection.workflowService.describeNamespace({ namespace: 'default' });
        expect(Number(ns.config?.workflowExecutionRetentionTtl?.seconds)).toBe(30 * 86_400);
        const attributes = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
        for (const key of SEARCH_ATTRIBUTES) expect(attributes.customAttributes).toHaveProperty(key.name);
        expect(await ensureSearchAttributes(connection, 'default')).toEqual([]);
      } finally {
        await connection.close();
      }
    } finally {
      await server.stop();
    }
    expect(await portIsOpen(server.address)).toBe(false);
  });

  it('fails clearly when the binary is missing', async () => {
    await expect(startTemporalDevServer({ binary: path.join(tmp, 'no-such-temporal'), port: 0, uiPort: false })).rejects.toThrow(/exited early|ENOENT/);
  });
});

describe('shared test server', () => {
  it('registers the search attributes on a new namespace, idempotently', async () => {
    const { connection, close } = await connectTestClient();
    try {
      const namespace = await createTestNamespace(connection, { searchAttributes: false });
      const names = SEARCH_ATTRIBUTES.map((key) => key.name);
      const before = await connection.operatorService.listSearchAttributes({ namespace });
      for (const name of names) expect(before.customAttributes).not.toHaveProperty(name);

      expect((await ensureSearchAttributes(connection, namespace)).sort()).toEqual([...names].sort());
      const after = await connection.operatorService.listSearchAttributes({ namespace });
      for (const name of names) expect(after.customAttributes).toHaveProperty(name);
      expect(await ensureSearchAttributes(connection, namespace)).toEqual([]);
    } finally {
      await close();
    }
  });

  it('prepareExistingServer sets the retention and is idempotent', async () => {
    const { connection, close } = await connectTestClient();
    try {
      const namespace = await createTestNamespace(connection, { searchAttributes: false });
      const first = await prepareExistingServer({ address: temporalAddress(), namespace, retentionDays: 3 });
      expect(first.addedSearchAttributes).toHaveLength(SEARCH_ATTRIBUTES.length);
      expect(await prepareExistingServer({ address: temporalAddress(), namespace, retentionDays: 3 })).toEqual({ addedSearchAttributes: [], registeredNamespace: false });
      const ns = await connection.workflowService.describeNamespace({ namespace });
      expect(Number(ns.config?.workflowExecutionRetentionTtl?.seconds)).toBe(3 * 86_400);
    } finally {
      await close();
    }
  });

  it('prepareExistingServer registers a missing namespace (a production server starts with none)', async () => {
    const { connection, close } = await connectTestClient();
    try {
      const namespace = `qt-test-missing-${Date.now().toString(36)}`;
      const result = await prepareExistingServer({ address: temporalAddress(), namespace, retentionDays: 2 });
      expect(result).toMatchObject({ registeredNamespace: true, addedSearchAttributes: SEARCH_ATTRIBUTES.map((k) => k.name) });
      const ns = await connection.workflowService.describeNamespace({ namespace });
      expect(Number(ns.config?.workflowExecutionRetentionTtl?.seconds)).toBe(2 * 86_400);
    } finally {
      await close();
    }
  });

  it('hands out distinct task queues', () => {
    expect(uniqueTaskQueue('x')).not.toBe(uniqueTaskQueue('x'));
  });
});
