import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoBaselineStore, DynamoBeaconHistory, DynamoBeaconLock, DynamoDriftPassStore, DynamoFleetMemory, DynamoRequestStore, documentClient } from '../dynamo.js';
import { DynamoPinLedger, DynamoRolloutStore } from '../rollout-store.js';
import { ENV } from '../env-names.js';
import { env } from '../runtime.js';
import { clock, instrumented } from './sdk.js';

let db: ReturnType<typeof documentClient> | undefined;
const dynamo = () => (db ??= documentClient(instrumented(new DynamoDBClient({}))));

export const requestStore = () => new DynamoRequestStore(dynamo(), env(ENV.tableName));
export const beaconLock = () => new DynamoBeaconLock(dynamo(), env(ENV.tableName), clock);
export const fleetMemory = () => new DynamoFleetMemory(dynamo(), env(ENV.tableName), clock);
export const baselineStore = () => new DynamoBaselineStore(dynamo(), env(ENV.tableName));
export const driftPassStore = () => new DynamoDriftPassStore(dynamo(), env(ENV.tableName), clock);
export const beaconHistory = () => new DynamoBeaconHistory(dynamo(), env(ENV.tableName));
export const rolloutStore = () => new DynamoRolloutStore(dynamo(), env(ENV.tableName));
export const pinLedger = () => new DynamoPinLedger(dynamo(), env(ENV.tableName));
