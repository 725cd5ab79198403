/** The beacon inventory adapter the stack configured (FNMS_INVENTORY_CONFIG), its secret read from Secrets Manager; null when none is configured. */
import { type BeaconInventory, createReportInventory, parseInventoryConfig } from '../core/fnms/index.js';
import * as awsSecrets from './clients/secrets.js';
import { ENV } from './env-names.js';
import { env, optionalEnv } from './runtime.js';

export function inventoryFromEnv(): BeaconInventory | null {
  const raw = optionalEnv(ENV.inventoryConfig);
  if (raw === undefined || raw === '') return null;
  const config = parseInventoryConfig(JSON.parse(raw));
  const secretName = env(ENV.inventorySecretName);
  const secrets = awsSecrets.secretSource([secretName]);
  return createReportInventory(config, {
    // Read fresh each time the adapter asks (a new access token, or after a refused password): the secret may have been rotated.
    getSecret: async () => {
      const value = await secrets.getSecret(secretName);
      secrets.forget(secretName);
      return value;
    },
  });
}
