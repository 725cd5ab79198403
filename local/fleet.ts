import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * A fleet directory for the local twin: `fleet.json` lists the simulated SSM-managed instances, and each
 * beacon has one model file (the fake Windows layer's JSON model of that machine) next to it.
 */
export const FleetFileSchema = z.strictObject({
  beacons: z.array(
    z.strictObject({
      instanceId: z.string().regex(/^(i-([0-9a-f]{8}|[0-9a-f]{17})|mi-[0-9a-f]{17})$/),
      computerName: z.string().min(1),
      platformType: z.string().default('Windows'),
      pingStatus: z.enum(['Online', 'ConnectionLost', 'Inactive']).default('Online'),
      tags: z.record(z.string(), z.string()).default({}),
      /** Model file, relative to the fleet directory. */
      model: z.string().min(1),
    }),
  ),
});

export type FleetBeacon = z.infer<typeof FleetFileSchema>['beacons'][number] & { modelPath: string };

export interface Fleet {
  dir: string;
  beacons: FleetBeacon[];
}

export const FLEET_FILE = 'fleet.json';

export async function loadFleet(dir: string): Promise<Fleet> {
  const absolute = resolve(dir);
  const file = join(absolute, FLEET_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the fleet file ${file}: ${(error as Error).message}`);
  }
  const parsed = FleetFileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${file}: ${issue.path.join('.')}: ${issue.message}`);
  }
  const ids = new Set<string>();
  for (const beacon of parsed.data.beacons) {
    if (ids.has(beacon.instanceId)) throw new Error(`${file}: instance ${beacon.instanceId} is listed twice`);
    ids.add(beacon.instanceId);
  }
  return { dir: absolute, beacons: parsed.data.beacons.map((beacon) => ({ ...beacon, modelPath: join(absolute, beacon.model) })) };
}
