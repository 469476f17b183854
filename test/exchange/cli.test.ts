import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FIXTURE_DIR } from './helpers.js';

const QT = ['bin/qt.js', 'exchange'];

// Each case starts the real `qt` command (a few seconds each): the cases cover the checks, not every option.
describe('qt exchange arguments', () => {
  it.each([
    [['--step-seconds', '0'], /--step-seconds.*must be a number above 0/],
    [['--step-seconds', '-15'], /--step-seconds.*must be a number above 0/],
    [['--start', '175668480000'], /--start.*neither epoch seconds/],
  ])('refuses %j with the usage hint and a non-zero exit', (args, message) => {
    const r = spawnSync(process.execPath, [...QT, ...args], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/Usage: qt exchange \[options\]\n\(run qt exchange --help for usage\)/);
  });

  it('reads --start in epoch seconds as seconds', async () => {
    const start = Date.UTC(2025, 7, 1, 12); // inside the fixtures
    const child = spawn(process.execPath, [...QT, '--replay', FIXTURE_DIR, '--port', '0', '--start', String(start / 1000)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const feedLine = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.includes('feed:'));
        if (line) resolve(line);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    child.kill('SIGINT');
    expect(feedLine).toContain('from 2025-08-01T12:00:00');
  });
});
