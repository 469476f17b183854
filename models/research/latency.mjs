// Times one 45-row batch through every ONNX graph given (run one after the other, as a tick would
// score the long and the short model) in onnxruntime-node. Prints JSON: p50 / p99 in ms over
// 5 runs of 400 ticks (the median run's figures). Usage: node latency.mjs FEATURES model.onnx...
import * as ort from 'onnxruntime-node';

const [features, ...files] = process.argv.slice(2);
const f = Number(features);
const BATCH = 45;
const sessions = await Promise.all(files.map((p) => ort.InferenceSession.create(p)));
const data = new Float32Array(BATCH * f).map((_, i) => Math.sin(i) * 0.01);
const input = new ort.Tensor('float32', data, [BATCH, f]);
const runs = [];
for (let r = 0; r < 5; r++) {
  const lat = [];
  for (let i = 0; i < 400; i++) {
    const t0 = process.hrtime.bigint();
    for (const s of sessions) await s.run({ features: input });
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  lat.sort((a, b) => a - b);
  runs.push({ p50: lat[200], p99: lat[396] });
}
runs.sort((a, b) => a.p50 - b.p50);
const mid = runs[2];
console.log(JSON.stringify({ batch: BATCH, graphs: files.length, p50Ms: +mid.p50.toFixed(3), p99Ms: +mid.p99.toFixed(3) }));
