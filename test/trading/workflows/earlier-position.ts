/**
 * The position workflow as deployments ran it before the position lifecycle: the earlier code, without the
 * hand-over. A worker with this bundle starts positions the way running deployments have them.
 */
import type { PositionInput, PositionReport } from '../../../workflows/contracts.js';
import { legacyPositionWorkflow } from '../../../workflows/position-legacy.js';

export async function positionWorkflow(input: PositionInput): Promise<PositionReport> {
  return legacyPositionWorkflow(input, null);
}
