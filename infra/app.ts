import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BeaconProxyStack } from './beacon-proxy-stack.js';
import { stackConfigFrom } from './config.js';
import { acknowledgeNagFindings } from './nag-suppressions.js';

export interface BuildOptions {
  /** Register cdk-nag as a synthesis validation plugin (the CLI app does; tests run the pack themselves). */
  nag?: boolean;
}

export function buildApp(app = new App(), options: BuildOptions = { nag: true }): { app: App; stack: BeaconProxyStack } {
  const config = stackConfigFrom((key) => app.node.tryGetContext(key));
  const stack = new BeaconProxyStack(app, String(app.node.tryGetContext('stackName') ?? 'BeaconProxy'), {
    config,
    description: 'beacon-proxy: configure FlexNet inventory beacons to reach FNMS through a proxy',
    // Account and region come from the deploying credentials; synth works without any.
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  acknowledgeNagFindings(stack.beaconProxy);
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildApp().app.synth();
}
