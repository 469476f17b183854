import { CommanderError } from 'commander';
import { ConfigError, loadConfig, type AppConfig } from '../core/config.js';
import { buildProgram } from './program.js';

let cached: AppConfig | null = null;
/** Configuration is read lazily so `qt --help` works even with a bad environment. */
const config = (): AppConfig => (cached ??= loadConfig(process.env));

const program = buildProgram(config);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  // One clear line, no stack trace, for errors users cause (bad config, unknown symbol, no server).
  const msg = err instanceof ConfigError ? `configuration error: ${err.message}` : `error: ${err instanceof Error ? err.message : String(err)}`;
  console.error(msg);
  if (process.env.QT_DEBUG) console.error(err);
  process.exit(1);
}
