/**
 * What a restarted worker pays per history event to replay the workflows it takes over:
 * `npm run bench:replay [-- --rounds 5]`.
 *
 * Replays every saved history in test/fixtures/histories (symbol loops, positions, the risk book, the
 * reconciler; the same the replay test checks) through the worker's own workflow bundle, one after another on one
 * workflow thread, for a number of rounds after a warm-up round, and prints the cost per event and per history.
 * A restarted worker replays the current run of every loop, open position and the risk book at once, so this
 * cost times the events of those runs (see chaos/breakdown.ts) is the CPU time of its first workflow tasks.
 */
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from '@temporalio/worker';
import pino from 'pino';
import { bundleWorkflows } from '../worker/create-worker.js';
import { installTemporalLogger } from '../worker/runtime.js';
import { median, percentile } from './stats.js';

const DIR = path.join(import.meta.dirname, '..', 'test', 'fixtures', 'histories');

interface Saved {
  workflowId: string;
  history: { events: unknown[] };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive whole number, got ${values.rounds}`);
  installTemporalLogger(pino({ level: 'error' }));
  const saved: Saved[] = readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ workflowId: f.replace(/\.json$/, ''), history: JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) as Saved['history'] }));
  const eventsPerRound = saved.reduce((n, s) => n + s.history.events.length, 0);
  const bundleStarted = performance.now();
  const workflowBundle = await bundleWorkflows();
  const bundleMs = performance.now() - bundleStarted;

  const perRoundMs: number[] = [];
  const perEventMs: number[] = [];
  let last = performance.now();
  let index = 0;
  const all = Array.from({ length: rounds + 1 }, () => saved).flat();
  for await (const result of Worker.runReplayHistories({ workflowBundle }, all)) {
    if (result.error) throw new Error(`${result.workflowId} did not replay: ${String(result.error)}`);
    const now = performance.now();
    const events = saved[index % saved.length]!.history.events.length;
    if (index >= saved.length) perEventMs.push((now - last) / events);
    last = now;
    index++;
    if (index % saved.length === 0) perRoundMs.push(now);
  }
  const roundMs = perRoundMs.slice(1).map((t, i) => t - perRoundMs[i]!);
  console.log(`replay of ${saved.length} saved histories (${eventsPerRound} events), ${rounds} rounds after a warm-up; ${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(2)}`);
  console.log(`  workflow bundle: ${(workflowBundle.code.length / 1024 / 1024).toFixed(2)} MiB, built in ${(bundleMs / 1000).toFixed(1)} s`);
  console.log(`  per event: ${(median(roundMs) / eventsPerRound).toFixed(3)} ms (median round ${median(roundMs).toFixed(0)} ms); per history and event p50 ${median(perEventMs).toFixed(3)} ms, p90 ${percentile([...perEventMs].sort((a, b) => a - b), 0.9).toFixed(3)} ms`);
}

await main();
