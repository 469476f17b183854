import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (where .venv and models/ live). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The project venv's interpreter (QT_PYTHON overrides it). */
export function pythonPath(): string {
  const p = process.env.QT_PYTHON ?? join(PROJECT_ROOT, '.venv', 'bin', 'python');
  if (!existsSync(p)) throw new Error(`Python not found at ${p}: run "npm install" (it creates .venv with models/training/requirements.txt) or set QT_PYTHON`);
  return p;
}
