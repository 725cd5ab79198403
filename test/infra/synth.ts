import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app.js';
import type { BeaconProxyStack } from '../../infra/beacon-proxy-stack.js';
import { BUNDLING_CONTEXT_KEY } from '../../infra/constructs/beacon-function.js';

/** One synth per test file: inline stub code instead of esbuild bundles (the CLI synth bundles for real). */
export function synthStack(context: Record<string, unknown> = {}): { app: App; stack: BeaconProxyStack; template: Template } {
  const app = new App({ context: { [BUNDLING_CONTEXT_KEY]: 'stub', ...context } });
  const { stack } = buildApp(app, { nag: false });
  return { app, stack, template: Template.fromStack(stack) };
}
