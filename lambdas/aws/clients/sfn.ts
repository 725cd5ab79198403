import { SFNClient } from '@aws-sdk/client-sfn';
import { ENV } from '../env-names.js';
import { env } from '../runtime.js';
import { SfnWorkflowStarter } from '../sfn-workflows.js';
import { SDK_CONFIG, instrumented } from './sdk.js';

export const workflowStarter = () => new SfnWorkflowStarter(instrumented(new SFNClient(SDK_CONFIG)), env(ENV.stateMachineArn));
