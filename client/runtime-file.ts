import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where `qt up` tells other `qt` commands how to reach the servers it started. */
export interface RuntimeInfo {
  temporalAddress: string;
  databaseUrl: string;
  exchangeUrl: string | null;
  webUi: string | null;
  pid: number;
}

export const STATE_DIR = process.env.QT_STATE_DIR ?? '.qt';
const file = () => join(STATE_DIR, 'runtime.json');

export function writeRuntimeInfo(info: RuntimeInfo): void {
  mkdirSync(dirname(file()), { recursive: true });
  writeFileSync(file(), JSON.stringify(info, null, 2));
}

export function readRuntimeInfo(): RuntimeInfo | null {
  try {
    return JSON.parse(readFileSync(file(), 'utf8')) as RuntimeInfo;
  } catch {
    return null;
  }
}

export function clearRuntimeInfo(): void {
  rmSync(file(), { force: true });
}

export function temporalAddress(): string {
  return process.env.TEMPORAL_ADDRESS ?? readRuntimeInfo()?.temporalAddress ?? 'localhost:7233';
}

export function databaseUrl(): string {
  const url = process.env.DATABASE_URL ?? readRuntimeInfo()?.databaseUrl;
  if (!url) throw new Error('no database: set DATABASE_URL or run `npm start` first');
  return url;
}
