/** The configured report adapter: Flexera One (REST) or FNMS on premises (SOAP), chosen by `kind`. */
import * as z from 'zod/mini';
import { FlexeraOneConfigSchema, createFlexeraOneInventory } from './flexera-one.js';
import type { BeaconInventory } from './inventory.js';
import { OnPremisesConfigSchema, createOnPremisesInventory } from './on-premises.js';
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
  return config.kind === 'flexeraOne' ? createFlexeraOneInventory(config, deps) : createOnPremisesInventory(config, deps);
}
