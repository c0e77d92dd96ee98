/** Every class a world can hold, by name. */
import { BATTERY_SENSOR } from './battery-sensor.js';
import { EDGE_GATEWAY } from './edge-gateway.js';
import { EV_CHARGER } from './ev-charger.js';
import { INFUSION_PUMP } from './infusion-pump.js';
import { IP_CAMERA } from './ip-camera.js';
import { PLAIN_CLASSES } from './plain.js';
import type { ClassDef } from './types.js';

/** Classes the plain simulator does not have. */
export const NEW_CLASSES: readonly ClassDef[] = [EV_CHARGER, BATTERY_SENSOR, INFUSION_PUMP, IP_CAMERA, EDGE_GATEWAY];

export const WORLD_CLASSES: readonly ClassDef[] = [...PLAIN_CLASSES, ...NEW_CLASSES];

export function classDef(cls: string): ClassDef {
  const d = WORLD_CLASSES.find((c) => c.cls === cls);
  if (!d) throw new Error(`unknown world class ${cls}`);
  return d;
}

export type { ClassDef, IdleHabit } from './types.js';
