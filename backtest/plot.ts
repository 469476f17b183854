import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

/**
 * Equity curves as an image with no dependency: PNG (encoded here with node:zlib, text in a tiny
 * built-in pixel font) or SVG, chosen by the file extension.
 */
export interface Curve {
  name: string;
  times: Float64Array;
  equity: Float64Array;
}

const COLORS: [number, number, number][] = [[31, 119, 180], [127, 127, 127], [214, 39, 40], [44, 160, 44], [148, 103, 189], [255, 127, 14]];
const W = 1000;
const H = 500;
const PAD = { l: 70, r: 20, t: 30, b: 40 };

export function writePlot(file: string, curves: Curve[], capital: number): void {
  if (file.toLowerCase().endsWith('.svg')) writeFileSync(file, svg(curves, capital));
  else writeFileSync(file, png(curves, capital));
}

function bounds(curves: Curve[], capital: number) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const c of curves) for (const e of c.equity) (lo = Math.min(lo, e + capital)), (hi = Math.max(hi, e + capital));
  if (!Number.isFinite(lo)) [lo, hi] = [capital - 1, capital + 1];
  if (hi - lo < 1e-9) [lo, hi] = [lo - 1, hi + 1];
  const t0 = curves[0]?.times[0] ?? 0;
  const t1 = curves[0]?.times[curves[0].times.length - 1] ?? 1;
  const x = (t: number) => PAD.l + ((t - t0) / Math.max(1, t1 - t0)) * (W - PAD.l - PAD.r);
  const y = (v: number) => PAD.t + (1 - (v - lo) / (hi - lo)) * (H - PAD.t - PAD.b);
  return { lo, hi, t0, t1, x, y };
}

const day = (t: number) => new Date(t).toISOString().slice(0, 10);

function svg(curves: Curve[], capital: number): string {
  const b = bounds(curves, capital);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${PAD.l}" y1="${b.y(capital)}" x2="${W - PAD.r}" y2="${b.y(capital)}" stroke="#ccc"/>`,
    `<text x="5" y="${PAD.t + 5}">${b.hi.toFixed(0)}</text><text x="5" y="${H - PAD.b}">${b.lo.toFixed(0)}</text>`,
    `<text x="${PAD.l}" y="${H - 10}">${day(b.t0)}</text><text x="${W - PAD.r - 80}" y="${H - 10}">${day(b.t1)}</text>`];
  curves.forEach((c, i) => {
    const [r, g, bl] = COLORS[i % COLORS.length]!;
    const step = Math.max(1, Math.floor(c.times.length / 2000));
    const pts: string[] = [];
    for (let k = 0; k < c.times.length; k += step) pts.push(`${b.x(c.times[k]!).toFixed(1)},${b.y(c.equity[k]! + capital).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="rgb(${r},${g},${bl})" stroke-width="1.5" points="${pts.join(' ')}"/>`);
    parts.push(`<text x="${PAD.l + 10}" y="${PAD.t + 15 * i}" fill="rgb(${r},${g},${bl})">${c.name}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function png(curves: Curve[], capital: number): Buffer {
  const b = bounds(curves, capital);
  const img = Buffer.alloc(W * H * 3, 255);
  const set = (x: number, y: number, [r, g, bl]: [number, number, number]) => {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= W || yi >= H) return;
    const o = (yi * W + xi) * 3;
    img[o] = r;
    img[o + 1] = g;
    img[o + 2] = bl;
  };
  const line = (x0: number, y0: number, x1: number, y1: number, c: [number, number, number]) => {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let k = 0; k <= n; k++) set(x0 + ((x1 - x0) * k) / n, y0 + ((y1 - y0) * k) / n, c);
  };
  const grey: [number, number, number] = [200, 200, 200];
  const black: [number, number, number] = [0, 0, 0];
  line(PAD.l, b.y(capital), W - PAD.r, b.y(capital), grey);
  line(PAD.l, PAD.t, PAD.l, H - PAD.b, black);
  line(PAD.l, H - PAD.b, W - PAD.r, H - PAD.b, black);
  text(set, 4, PAD.t, b.hi.toFixed(0), black);
  text(set, 4, H - PAD.b - 10, b.lo.toFixed(0), black);
  text(set, PAD.l, H - PAD.b + 10, day(b.t0), black);
  text(set, W - PAD.r - 100, H - PAD.b + 10, day(b.t1), black);
  curves.forEach((c, i) => {
    const col = COLORS[i % COLORS.length]!;
    let px = NaN;
    let py = NaN;
    for (let k = 0; k < c.times.length; k++) {
      const x = b.x(c.times[k]!);
      const y = b.y(c.equity[k]! + capital);
      if (!Number.isNaN(px)) line(px, py, x, y, col);
      [px, py] = [x, y];
    }
    text(set, PAD.l + 10 + i * 180, 8, c.name.toUpperCase(), col);
  });
  return encodePng(img, W, H);
}

// 3x5 pixel glyphs, rows top to bottom, 3 bits each; drawn at scale 2.
const FONT: Record<string, string> = {
  '0': '111101101101111', '1': '010110010010111', '2': '111001111100111', '3': '111001111001111', '4': '101101111001001',
  '5': '111100111001111', '6': '111100111101111', '7': '111001010010010', '8': '111101111101111', '9': '111101111001111',
  '-': '000000111000000', '.': '000000000000010', ':': '000010000010000', '_': '000000000000111', ' ': '000000000000000',
  A: '010101111101101', B: '110101110101110', C: '011100100100011', D: '110101101101110', E: '111100110100111',
  F: '111100110100100', G: '011100101101011', H: '101101111101101', I: '111010010010111', J: '001001001101010',
  K: '101101110101101', L: '100100100100111', M: '101111111101101', N: '110101101101101', O: '010101101101010',
  P: '110101110100100', Q: '010101101110011', R: '110101110101101', S: '011100010001110', T: '111010010010010',
  U: '101101101101111', V: '101101101101010', W: '101101111111101', X: '101101010101101', Y: '101101010010010', Z: '111001010100111',
};

function text(set: (x: number, y: number, c: [number, number, number]) => void, x: number, y: number, s: string, c: [number, number, number]): void {
  [...s].forEach((ch, i) => {
    const g = FONT[ch] ?? FONT[' ']!;
    for (let r = 0; r < 5; r++) for (let col = 0; col < 3; col++) {
      if (g[r * 3 + col] !== '1') continue;
      for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) set(x + i * 8 + col * 2 + dx, y + r * 2 + dy, c);
    }
  });
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** RGB8 PNG: signature, IHDR, one zlib IDAT of filter-0 scanlines, IEND. */
export function encodePng(rgb: Buffer, width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) rgb.copy(raw, y * (width * 3 + 1) + 1, y * width * 3, (y + 1) * width * 3);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
