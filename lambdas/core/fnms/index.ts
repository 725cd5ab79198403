/** FNMS adapter: contract, configuration, errors (implementations follow in this folder). */
export * from './types.js';
export * from './errors.js';
export * from './config.js';
