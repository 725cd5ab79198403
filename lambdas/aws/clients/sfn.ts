import { SFNClient } from '@aws-sdk/client-sfn';
import { ENV } from '../env-names.js';
import { env } from '../runtime.js';
import { SfnRequestStarter, SfnTaskTokens, SfnWorkflowStarter } from '../sfn-workflows.js';
import { SDK_CONFIG, instrumented } from './sdk.js';

let client: SFNClient | undefined;
const sfn = () => (client ??= instrumented(new SFNClient(SDK_CONFIG)));

export const workflowStarter = () => new SfnWorkflowStarter(sfn(), env(ENV.stateMachineArn));
export const requestStarter = () => new SfnRequestStarter(sfn(), env(ENV.requestStateMachineArn));
export const taskTokens = () => new SfnTaskTokens(sfn());
