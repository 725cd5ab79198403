/** ChatOps core: contract types (implementations follow in this folder). */
export * from './types.js';
