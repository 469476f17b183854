import { createHmac, timingSafeEqual } from 'node:crypto';

/** Binance HMAC-SHA256 signature: hex digest of the secret over the query string concatenated with the body. */
export function hmacSignature(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/**
 * Splits a raw query string into the signed payload and the signature, keeping every other byte exactly as
 * sent (the signature covers the raw, still-encoded text).
 */
export function splitSignature(rawQuery: string): { payload: string; signature: string | undefined } {
  const parts = rawQuery.split('&');
  let signature: string | undefined;
  const kept: string[] = [];
  for (const p of parts) {
    if (p.startsWith('signature=')) signature = decodeURIComponent(p.slice('signature='.length));
    else if (p) kept.push(p);
  }
  return { payload: kept.join('&'), signature };
}

export function signatureMatches(secret: string, payload: string, signature: string): boolean {
  const expected = Buffer.from(hmacSignature(secret, payload), 'utf8');
  const given = Buffer.from(signature.toLowerCase(), 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}
