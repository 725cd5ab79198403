import { SSMClient } from '@aws-sdk/client-ssm';
import { ENV, METRICS } from '../env-names.js';
import { SsmProfileStore } from '../parameters.js';
import { countMetric, env, optionalEnv } from '../runtime.js';
import { SsmBeaconCommands, countThrottledAttempts } from '../ssm-commands.js';
import { SDK_CONFIG, instrumented } from './sdk.js';
import { workflowTiming } from './timing.js';

let client: SSMClient | undefined;
const ssm = () => (client ??= instrumented(countThrottledAttempts(new SSMClient(SDK_CONFIG), () => countMetric(METRICS.ssmThrottles))));

export const beaconCommands = () => {
  const outputLogGroup = optionalEnv(ENV.commandLogGroup);
  // Functions without the workflow timing (the intake, the triggers' inventory reads) never send a workflow command.
  const delivery = optionalEnv(ENV.workflowTiming) ? workflowTiming().deliveryTimeoutSeconds : undefined;
  return new SsmBeaconCommands(ssm(), { ...(outputLogGroup ? { outputLogGroup } : {}), ...(delivery ? { deliveryTimeoutSeconds: delivery } : {}) });
};
export const profileStore = () => new SsmProfileStore(ssm(), env(ENV.profilePrefix));
