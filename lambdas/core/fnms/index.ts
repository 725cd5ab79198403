/**
 * FNMS: the beacon inventory read through Flexera's documented report APIs (Flexera One REST, on-premises
 * SOAP), the release rules, and the pin gateway contract (ours, not Flexera's) with its HTTP client.
 */
export * from './types.js';
export * from './errors.js';
export * from './config.js';
export * from './pin.js';
export * from './client.js';
export * from './in-memory.js';
export * from './inventory.js';
export * from './release.js';
export * from './report-http.js';
export * from './flexera-one.js';
// The on-premises SOAP adapter itself is imported from './on-premises.js' where it is used (report-inventory.ts loads it lazily).
export * from './on-premises-config.js';
export * from './report-inventory.js';
export * from './pin-ledger.js';
