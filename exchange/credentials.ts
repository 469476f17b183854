import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';

/**
 * An API key pair that does not leak: the secret is a private field, and toString, JSON and util.inspect
 * (which loggers use) show the key's last four characters only.
 */
export class ApiCredentials {
  readonly #secret: string;

  constructor(
    readonly apiKey: string,
    apiSecret: string,
  ) {
    this.#secret = apiSecret;
  }

  get apiSecret(): string {
    return this.#secret;
  }

  toString(): string {
    return `ApiCredentials(key …${this.apiKey.slice(-4)}, secret redacted)`;
  }

  toJSON(): Record<string, string> {
    return { apiKey: `…${this.apiKey.slice(-4)}`, apiSecret: '[redacted]' };
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * Keys from BINANCE_API_KEY / BINANCE_API_SECRET, or from the files named by BINANCE_API_KEY_FILE /
 * BINANCE_API_SECRET_FILE (Docker / Kubernetes secrets). Errors name the variable, never a value.
 * Returns null when no key is configured at all.
 */
export function loadApiKeys(env: NodeJS.ProcessEnv = process.env): ApiCredentials | null {
  const key = fromEnvOrFile(env, 'BINANCE_API_KEY');
  const secret = fromEnvOrFile(env, 'BINANCE_API_SECRET');
  if (!key && !secret) return null;
  if (!key) throw new Error('BINANCE_API_SECRET is set but BINANCE_API_KEY (or BINANCE_API_KEY_FILE) is missing');
  if (!secret) throw new Error('BINANCE_API_KEY is set but BINANCE_API_SECRET (or BINANCE_API_SECRET_FILE) is missing');
  return new ApiCredentials(key, secret);
}

function fromEnvOrFile(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = env[name]?.trim();
  if (direct) return direct;
  const file = env[`${name}_FILE`]?.trim();
  if (!file) return undefined;
  try {
    const value = readFileSync(file, 'utf8').trim();
    if (!value) throw new Error('empty');
    return value;
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new Error(`${name}_FILE: cannot read ${file} (${reason})`);
  }
}
