import { z } from 'zod';
import { defineStrategy } from '../core/strategy.js';

/**
 * The shipped strategy: the XGBoost model of models/xgb-v1 scores the whole feature pipeline
 * (core/features.ts); the loop trades its most probable class above the confidence threshold, with the
 * standard exits at their defaults. QT_MODEL_DIR scores another model directory instead.
 */
export default defineStrategy({
  name: 'xgb',
  description: 'XGBoost classifier (models/xgb-v1) on the feature pipeline',
  params: z.object({}),
  features: {},
  scorer: { model: 'models/xgb-v1' },
});
