import { loadWorkflow } from '../local/workflow-definition.js';

/** Synthesizes the stack's workflow once for every test file that starts a local twin (cached by source digest). */
export default async function setup(): Promise<void> {
  await loadWorkflow();
}
