import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';

/** Where `qt up` tells other `qt` commands how to reach the servers it started. */
const runtimeInfo = z.object({
  temporalAddress: z.string().min(1),
  databaseUrl: z.string().min(1),
  exchangeUrl: z.string().nullable(),
  webUi: z.string().nullable(),
  pid: z.number().int().positive(),
});
export type RuntimeInfo = z.infer<typeof runtimeInfo>;

export const STATE_DIR = process.env.QT_STATE_DIR ?? '.qt';
const file = () => join(STATE_DIR, 'runtime.json');

export function writeRuntimeInfo(info: RuntimeInfo): void {
  mkdirSync(dirname(file()), { recursive: true });
  writeFileSync(file(), JSON.stringify(info, null, 2));
}

/** The running stack's addresses, or null when no stack wrote them; a damaged file is an error naming it. */
export function readRuntimeInfo(): RuntimeInfo | null {
  let text: string;
  try {
    text = readFileSync(file(), 'utf8');
  } catch {
    return null;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file()} is not valid JSON (${(e as Error).message}); delete it or run \`qt up\` again`);
  }
  const parsed = runtimeInfo.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${file()}: ${issue.path.join('.') || '(root)'}: ${issue.message}; delete it or run \`qt up\` again`);
  }
  return parsed.data;
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
