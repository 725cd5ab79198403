/** Settings the stack passes to every function through its environment. */
import type { BeaconDocumentKind } from '../../core/document-contract.js';
import { ENV } from '../env-names.js';
import { env } from '../runtime.js';

export const beaconTag = () => ({ key: env(ENV.beaconTagKey), value: env(ENV.beaconTagValue) });
export const documentNames = (): Record<BeaconDocumentKind, string> => JSON.parse(env(ENV.documentNames)) as Record<BeaconDocumentKind, string>;
