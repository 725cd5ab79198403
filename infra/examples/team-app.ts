/**
 * The README's example (README, "Use it in your own CDK app"): a team's own CDK app with beacon-proxy as one
 * construct next to its other resources. With this repository vendored at ./beacon-proxy, the imports are
 * './beacon-proxy/infra/beacon-proxy.js' and './beacon-proxy/infra/nag-suppressions.js'. test/infra/reuse.test.ts
 * synthesizes it.
 */
import { App, Stack } from 'aws-cdk-lib';
import { BeaconProxy } from '../beacon-proxy.js';
import { acknowledgeNagFindings } from '../nag-suppressions.js';

export function teamApp(app = new App()): { app: App; stack: Stack; beacons: BeaconProxy } {
  const stack = new Stack(app, 'InventoryPlatform', { env: { account: '111122223333', region: 'eu-west-1' } });
  const beacons = new BeaconProxy(stack, 'Beacons', {
    pinMode: 'gateway',
    gatewayUrl: 'https://pin-gateway.corp.example',
    beaconTagKey: 'fleet:role',
    beaconTagValue: 'inventory-beacon',
    apiSubmitPrincipals: ['arn:aws:iam::111122223333:role/fnms-admins'],
    chatAllowedUsers: ['U012ABC'],
  });
  acknowledgeNagFindings(beacons); // only if you run cdk-nag: our reasons, on our resources only
  // beacons.api.api.url, beacons.intake.queue, beacons.workflow.stateMachine, beacons.notifications.outcomeTopic ...
  return { app, stack, beacons };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  teamApp().app.synth();
}
