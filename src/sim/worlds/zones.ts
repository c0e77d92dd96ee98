/**
 * Time zones a world's sites can be in: the simulator's five plus zones with half-hour offsets
 * and no daylight saving, because hour-of-day habits learned in UTC must hold for them too.
 */
import { ZONES, type Zone } from '../time.js';

export const WORLD_ZONES: readonly Zone[] = [
  ...ZONES,
  { name: 'Europe/Helsinki', baseOffsetH: 2, dst: 'eu' },
  { name: 'America/Los_Angeles', baseOffsetH: -8, dst: 'us' },
  { name: 'America/Sao_Paulo', baseOffsetH: -3, dst: 'none' },
  { name: 'Asia/Kolkata', baseOffsetH: 5.5, dst: 'none' },
  { name: 'Asia/Tokyo', baseOffsetH: 9, dst: 'none' },
];

export function worldZone(name: string): Zone {
  const z = WORLD_ZONES.find((x) => x.name === name);
  if (!z) throw new Error(`unknown world zone ${name}`);
  return z;
}
