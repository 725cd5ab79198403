import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsManagerSource } from '../parameters.js';
import { SDK_CONFIG, instrumented } from './sdk.js';

export const secretSource = (names: string[]) => new SecretsManagerSource(instrumented(new SecretsManagerClient(SDK_CONFIG)), names);
