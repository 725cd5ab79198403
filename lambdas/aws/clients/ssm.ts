import { SSMClient } from '@aws-sdk/client-ssm';
import { ENV, METRICS } from '../env-names.js';
import { SsmProfileStore } from '../parameters.js';
import { countMetric, env, numberEnv, optionalEnv } from '../runtime.js';
import { SsmBeaconCommands, countThrottledAttempts } from '../ssm-commands.js';
import { SDK_CONFIG, instrumented } from './sdk.js';

let client: SSMClient | undefined;
const ssm = () => (client ??= instrumented(countThrottledAttempts(new SSMClient(SDK_CONFIG), () => countMetric(METRICS.ssmThrottles))));

export const beaconCommands = () => {
  const outputLogGroup = optionalEnv(ENV.commandLogGroup);
  return new SsmBeaconCommands(ssm(), { ...(outputLogGroup ? { outputLogGroup } : {}), executionTimeoutSeconds: numberEnv(ENV.commandTimeoutSeconds, 1800) });
};
export const profileStore = () => new SsmProfileStore(ssm(), env(ENV.profilePrefix));
