/**
 * Rounding to exchange filters. Binance rejects a quantity off the lot step or a price off the tick
 * (-1111), so every number is rounded here and sent as a string with exactly the step's decimals.
 */

/** Decimal places of a step such as 0.001 (3), 0.5 (1) or 10 (0). */
export function stepDecimals(step: number): number {
  if (!(step > 0)) throw new Error(`invalid step ${step}`);
  const s = step.toString();
  if (s.includes('e-')) return Number(s.split('e-')[1]);
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}

/** Largest multiple of `step` not above `value`, as a string (quantities are never rounded up). */
export function floorToStep(value: number, step: number): string {
  const d = stepDecimals(step);
  // The epsilon keeps 0.3/0.1 = 2.9999999999999996 from losing a whole step.
  const units = Math.floor(value / step + 1e-9);
  return (units * step).toFixed(d);
}

/** Nearest multiple of `tick`, as a string. */
export function roundToTick(value: number, tick: number): string {
  const d = stepDecimals(tick);
  return (Math.round(value / tick) * tick).toFixed(d);
}

/** Removes keys whose value is undefined: the binance client would send them literally as "undefined". */
export function definedOnly<T extends Record<string, unknown>>(params: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]: Exclude<T[K], undefined> };
}
