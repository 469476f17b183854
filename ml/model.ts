import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { FEATURE_NAMES } from '../core/features.js';
import { SIGNAL_CLASSES } from '../core/types.js';

const modelInput = z.discriminatedUnion('kind', [
  z.looseObject({ kind: z.literal('features'), name: z.string().optional() }),
  z.looseObject({ kind: z.literal('sequence'), length: z.number().int().min(1, { error: 'sequence input needs a positive integer length' }), name: z.string().optional() }),
], { error: (issue) => `unknown input kind ${JSON.stringify((issue.input as { kind?: unknown } | undefined)?.kind)}` });

/** The part of `card.json` the runtime relies on (written by models/training); other fields pass through. */
const modelCard = z.looseObject({
  name: z.string().min(1).optional(),
  kind: z.string().optional(),
  input: modelInput.default({ kind: 'features' }),
  featureNames: z.array(z.string(), { error: 'card has no featureNames' }),
  classes: z.array(z.string(), { error: 'card has no classes' }),
  promotable: z.boolean().default(false),
});

/** How a model wants its input: one feature row per symbol, or the last `length` rows as a sequence. */
export type ModelInput = z.infer<typeof modelInput>;
export type ModelCard = z.infer<typeof modelCard>;

/** A model that must not be used: missing files, a card that does not match the pipeline, or the live guard. */
export class ModelLoadError extends Error {
  constructor(readonly dir: string, detail: string) {
    super(`model ${dir}: ${detail}`);
    this.name = 'ModelLoadError';
  }
}

export interface LoadOptions {
  /** Live trading refuses a model whose card says it does not beat the baselines... */
  liveTrading?: boolean;
  /** ...unless the operator explicitly overrides it. */
  allowUnproven?: boolean;
  /** onnxruntime intra-op threads; one is fastest for small batches on a shared machine. */
  threads?: number;
}

export interface LoadedModel {
  name: string;
  dir: string;
  card: ModelCard;
  /** Rows of features one sample needs (1 for feature models, N for sequence models). */
  window: number;
  /** Score `batch` samples laid out back to back; returns batch x 3 probabilities in SIGNAL_CLASSES order. */
  run(input: Float32Array, batch: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export function readCard(dir: string): ModelCard {
  const path = join(dir, 'card.json');
  if (!existsSync(path)) throw new ModelLoadError(dir, 'card.json not found');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ModelLoadError(dir, `card.json is not valid JSON: ${(e as Error).message}`);
  }
  const parsed = modelCard.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ModelLoadError(dir, `card.json ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  checkCard(dir, parsed.data);
  return parsed.data;
}

/** The card must describe exactly the features this build computes, in the same order, and the same classes. */
export function checkCard(dir: string, card: ModelCard): void {
  const names = card.featureNames;
  if (names.length !== FEATURE_NAMES.length || names.some((n, i) => n !== FEATURE_NAMES[i])) {
    const missing = FEATURE_NAMES.filter((n) => !names.includes(n));
    const extra = names.filter((n) => !FEATURE_NAMES.includes(n));
    throw new ModelLoadError(dir, `feature list does not match the pipeline (card ${names.length}, pipeline ${FEATURE_NAMES.length}; ` +
      `missing ${JSON.stringify(missing)}, unknown ${JSON.stringify(extra)}${missing.length + extra.length === 0 ? ', order differs' : ''})`);
  }
  if (card.classes.join(',') !== SIGNAL_CLASSES.join(',')) {
    throw new ModelLoadError(dir, `class order ${JSON.stringify(card.classes)} is not ${SIGNAL_CLASSES.join(',')}`);
  }
}

export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const card = readCard(dir);
  if (opts.liveTrading && card.promotable !== true && !opts.allowUnproven) {
    throw new ModelLoadError(dir, 'the card says this model does not beat the baselines out of sample (promotable: false); ' +
      'live trading refuses it unless QT_ALLOW_UNPROVEN_MODEL=true');
  }
  const file = join(dir, 'model.onnx');
  if (!existsSync(file)) throw new ModelLoadError(dir, 'model.onnx not found');
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, {
      intraOpNumThreads: opts.threads ?? 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
  } catch (e) {
    throw new ModelLoadError(dir, `onnxruntime cannot load model.onnx: ${(e as Error).message}`);
  }
  const input = card.input;
  const inputName = input.name ?? session.inputNames[0]!;
  const outputName = session.outputNames.includes('probabilities') ? 'probabilities' : session.outputNames[0]!;
  const window = input.kind === 'sequence' ? input.length : 1;
  const f = FEATURE_NAMES.length;
  return {
    name: card.name ?? basename(dir),
    dir,
    card,
    window,
    async run(data, batch) {
      const dims = input.kind === 'sequence' ? [batch, window, f] : [batch, f];
      const out = await session.run({ [inputName]: new ort.Tensor('float32', data, dims) }, [outputName]);
      const probs = out[outputName]!.data as Float32Array;
      if (probs.length !== batch * 3) throw new Error(`model ${dir} returned ${probs.length} values for ${batch} rows`);
      return probs;
    },
    close: () => session.release(),
  };
}
