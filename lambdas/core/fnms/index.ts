/** FNMS adapter: the contract, the pin rules, the HTTP client and an in-memory fake. */
export * from './types.js';
export * from './errors.js';
export * from './config.js';
export * from './pin.js';
export * from './client.js';
export * from './in-memory.js';
