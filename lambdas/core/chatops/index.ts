/** ChatOps core: webhook signatures, replay guard, command parsing, profiles, allowlist and replies. */
export * from './types.js';
export * from './signatures.js';
export * from './replay.js';
export * from './command.js';
export * from './profile.js';
export * from './platforms.js';
export * from './replies.js';
