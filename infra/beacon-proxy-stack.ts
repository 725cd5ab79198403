import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { BEACON_PROXY_ID_IN_STACK, BeaconProxy } from './beacon-proxy.js';
import type { StackConfig } from './config.js';

export interface BeaconProxyStackProps extends StackProps {
  config: StackConfig;
}

/**
 * The stack `npx cdk deploy` creates: one BeaconProxy construct (infra/beacon-proxy.ts), nothing else, so a
 * team adding the construct to its own app gets exactly what this stack deploys.
 */
export class BeaconProxyStack extends Stack {
  readonly beaconProxy: BeaconProxy;

  constructor(scope: Construct, id: string, props: BeaconProxyStackProps) {
    const { config, ...stackProps } = props;
    super(scope, id, stackProps);
    this.beaconProxy = new BeaconProxy(this, BEACON_PROXY_ID_IN_STACK, config);
  }
}
