import { writeFileSync } from 'node:fs';

/**
 * Minimal writer for NumPy's .npy format (version 1.0, C order), so Python loads the dataset with
 * one `np.load` call and no parsing.
 */
export function writeNpy(path: string, data: Float32Array | Float64Array, shape: [number, number]): void {
  if (shape[0] * shape[1] !== data.length) throw new Error(`npy ${path}: shape ${shape} does not match ${data.length} values`);
  const descr = data instanceof Float32Array ? '<f4' : '<f8';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape[0]}, ${shape[1]}), }`;
  // Magic (6) + version (2) + header length (2) + header + '\n' must be a multiple of 64.
  const pad = 64 - ((10 + header.length + 1) % 64);
  header = header + ' '.repeat(pad % 64) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  writeFileSync(path, Buffer.concat([prefix, Buffer.from(header, 'latin1'), body]));
}
