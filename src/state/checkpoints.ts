/**
 * JSON encoding of a whole-partition state snapshot. Checkpoints themselves live in the Kafka
 * changelog (changelog.ts), device by device; this whole-snapshot form is what tools and tests
 * use to show that state survives a JSON round trip exactly as a restore sees it.
 */
import type { EngineSnapshot } from '../pipeline/engine.js';
import type { RouterState } from '../alerts/router.js';
import { jsonReplacer } from './changelog.js';

export interface PartitionCheckpoint {
  next_offset: bigint;
  engine: EngineSnapshot;
  router: RouterState;
}

export function encodeState(c: Omit<PartitionCheckpoint, 'next_offset'>): string {
  return JSON.stringify({ engine: c.engine, router: c.router }, jsonReplacer);
}
