/**
 * The configured report adapter: Flexera One (REST) or FNMS on premises (SOAP), chosen by `kind`. The SOAP
 * adapter (an XML parser, the NTLM client) is imported on first use, so a function of a Flexera One stack
 * never loads it (its bundle keeps it in a chunk of its own, read only in on-premises mode).
 */
import * as z from 'zod/mini';
import { FlexeraOneConfigSchema, createFlexeraOneInventory } from './flexera-one.js';
import type { BeaconInventory } from './inventory.js';
import { OnPremisesConfigSchema } from './on-premises-config.js';
import type { ReportAdapterDeps } from './report-http.js';

export const InventoryConfigSchema = z.discriminatedUnion('kind', [FlexeraOneConfigSchema, OnPremisesConfigSchema]);
export type InventoryConfig = z.infer<typeof InventoryConfigSchema>;
export type InventoryConfigInput = z.input<typeof InventoryConfigSchema>;

/** Validates once (at cold start); throws naming the offending field. */
export function parseInventoryConfig(input: unknown): InventoryConfig {
  const parsed = InventoryConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid FNMS inventory configuration at ${issue.path.join('.') || '$'}: ${issue.message}`);
  }
  return parsed.data;
}

export function createReportInventory(input: InventoryConfigInput, deps: ReportAdapterDeps): BeaconInventory {
  const config = parseInventoryConfig(input);
  if (config.kind === 'flexeraOne') return createFlexeraOneInventory(config, deps);
  let adapter: Promise<BeaconInventory> | undefined;
  return {
    source: 'onPremises',
    async listBeacons() {
      adapter ??= import('./on-premises.js').then((soap) => soap.createOnPremisesInventory(config, deps));
      return (await adapter).listBeacons();
    },
  };
}
