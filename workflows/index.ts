export { symbolWorkflow } from './symbol.js';
export { positionWorkflow } from './position.js';
