import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

export const PROFILES_DIR = join(import.meta.dirname, '..', 'examples', 'profiles');

/** Named profiles (requests without target and requestId), one JSON file each, named by file: the twin's Parameter Store. */
export async function loadProfiles(dir = PROFILES_DIR): Promise<Record<string, Record<string, unknown>>> {
  const profiles: Record<string, Record<string, unknown>> = {};
  for (const file of (await readdir(dir)).filter((name) => name.endsWith('.json')).sort()) {
    profiles[basename(file, '.json')] = JSON.parse(await readFile(join(dir, file), 'utf8')) as Record<string, unknown>;
  }
  return profiles;
}
