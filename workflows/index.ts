export { symbolWorkflow } from './symbol.js';
export { positionWorkflow } from './position.js';
export { riskBookWorkflow } from './risk-book.js';
export { reconcilerWorkflow } from './reconciler.js';
export { retrainWorkflow } from './retrain.js';
