import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { ConfigError } from '../core/config.js';
import type { ParamMeta, Strategy } from '../core/strategy.js';
import { PARAM_ENV, type TradingParams, parseParam } from '../core/params.js';

/**
 * The strategy registry: every `<name>.ts` in this folder whose default export is a strategy named
 * `<name>`. Adding a strategy is adding its file; `QT_STRATEGY=<name>` (or `--strategy`) selects it.
 */
export const DEFAULT_STRATEGY = 'xgb';

const HERE = dirname(fileURLToPath(import.meta.url));
const STRATEGY_FILE = /^([a-z0-9][a-z0-9-]*)\.(ts|js)$/;

export function strategyNames(): string[] {
  return readdirSync(HERE)
    .map((f) => STRATEGY_FILE.exec(f)?.[1])
    .filter((n): n is string => n !== undefined && n !== 'index')
    .sort();
}

/** Load the strategy `name`; an unknown name or a file that does not define it fails naming `variable`. */
export async function loadStrategy(name: string, variable = 'QT_STRATEGY'): Promise<Strategy> {
  const names = strategyNames();
  if (!names.includes(name)) throw new ConfigError(variable, `unknown strategy "${name}"; strategies/ has ${names.join(', ')}`);
  const file = readdirSync(HERE).find((f) => STRATEGY_FILE.exec(f)?.[1] === name)!;
  const mod = (await import(pathToFileURL(join(HERE, file)).href)) as { default?: Strategy };
  const s = mod.default;
  if (!s || typeof s !== 'object' || s.name !== name || !s.scorer || !s.params) {
    throw new ConfigError(variable, `strategies/${file} must export default defineStrategy({ name: '${name}', ... })`);
  }
  return s;
}

export interface ParamRow extends ParamMeta {
  key: string;
  default: unknown;
  min?: number;
  max?: number;
}

function shapeOf(s: Strategy): Record<string, z.ZodType> {
  return (s.params as unknown as z.ZodObject).shape;
}

/** A zod type under its default / optional wrappers. */
function baseOf(t: z.ZodType): z.ZodType {
  let cur = t;
  while (cur instanceof z.ZodDefault || cur instanceof z.ZodOptional) cur = cur.unwrap() as z.ZodType;
  return cur;
}

/** Each parameter of a strategy, as `qt config` and the README list them. */
export function describeParams(s: Strategy): ParamRow[] {
  const defaults = s.params.parse({}) as Record<string, unknown>;
  return Object.entries(shapeOf(s)).map(([key, t]) => {
    const meta = (t.meta() ?? {}) as Partial<ParamMeta>;
    const base = baseOf(t);
    const bounds = base instanceof z.ZodNumber ? { min: base.minValue ?? undefined, max: base.maxValue ?? undefined } : {};
    return { key, env: meta.env ?? '', description: meta.description ?? '', runtime: meta.runtime ?? false, default: defaults[key], ...bounds };
  });
}

/** The strategy's parameters from the environment (each by its own variable), defaults elsewhere. */
export function strategyParams<P extends Record<string, unknown>>(s: Strategy<P>, env: Record<string, string | undefined>): P {
  const raw: Record<string, unknown> = {};
  const envOf: Record<string, string> = {};
  for (const [key, t] of Object.entries(shapeOf(s as Strategy))) {
    const name = (t.meta() as Partial<ParamMeta> | undefined)?.env;
    if (!name) continue;
    envOf[key] = name;
    const v = env[name]?.trim();
    if (v === undefined || v === '') continue;
    const base = baseOf(t);
    raw[key] = base instanceof z.ZodNumber ? Number(v) : base instanceof z.ZodBoolean ? ['true', '1', 'yes', 'on'].includes(v.toLowerCase()) : v;
  }
  const parsed = s.params.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const key = String(issue.path[0] ?? '');
  throw new ConfigError(envOf[key] ?? `strategy ${s.name}`, `${issue.message}${raw[key] !== undefined ? `, got ${String(env[envOf[key]!])}` : ''}`);
}

/**
 * The loop and exit parameters with the strategy's exits in place of the defaults; a parameter set by
 * its own variable in the environment still wins.
 */
export function withStrategyExits(params: TradingParams, s: Strategy, env: Record<string, string | undefined>): TradingParams {
  const out = { ...params };
  for (const [k, v] of Object.entries(s.exits ?? {}) as [keyof TradingParams, unknown][]) {
    if (env[PARAM_ENV[k]]?.trim()) continue;
    (out as Record<keyof TradingParams, unknown>)[k] = parseParam(k, v, `strategies/${s.name} exits.${k}`);
  }
  return out;
}
