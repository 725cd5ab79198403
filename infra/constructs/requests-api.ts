import { RemovalPolicy } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/aws/env-names.js';
import { TABLE_KEY_PREFIXES } from '../../lambdas/aws/table-keys.js';
import { PATTERNS } from '../../lambdas/core/request.js';
import { BeaconFunction } from './beacon-function.js';

export interface RequestsApiProps {
  encryptionKey: kms.IKey;
  queue: sqs.IQueue;
  table: dynamodb.ITable;
  environment: Record<string, string>;
  /** IAM role/user ARNs (patterns) that may submit: every POST. Nobody when empty. */
  submitPrincipals: string[];
  /** IAM role/user ARNs (patterns) that may read: every GET. Nobody when empty. */
  readPrincipals: string[];
  /** The per-beacon workflow: a per-beacon rollback or retry starts it for one beacon. */
  stateMachine: sfn.IStateMachine;
  /** The request workflow: cancel, go and pin confirmations end its operator waits (task tokens). */
  requestStateMachine: sfn.IStateMachine;
}

/**
 * What each permission covers, as execute-api resources (`/<stage>/<METHOD>/<path>`). Submitting is every
 * method that changes something, so a future `POST /requests/{id}/rerun` or `/cancel` is covered unchanged.
 */
export const API_PERMISSIONS = {
  submit: ['POST', 'PUT', 'PATCH', 'DELETE'].map((method) => `execute-api:/*/${method}/*`),
  read: ['GET', 'HEAD'].map((method) => `execute-api:/*/${method}/*`),
} as const;

/**
 * The API's resource policy: each permission admits only its named principals. Within one account API
 * Gateway admits a caller whom either the resource policy or the caller's own IAM policy allows, so an
 * Allow alone would not keep out an administrator with `execute-api:Invoke` on `*`: an explicit Deny for
 * everyone else makes the lists the whole truth (deny by default, even across the account).
 */
export function apiResourcePolicy(principals: { submit: string[]; read: string[] }): iam.PolicyDocument {
  const statements: iam.PolicyStatement[] = [];
  for (const permission of ['submit', 'read'] as const) {
    const allowed = principals[permission];
    const resources = [...API_PERMISSIONS[permission]];
    const sid = permission === 'submit' ? 'Submit' : 'Read';
    if (allowed.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          sid: `Allow${sid}ToNamedPrincipals`,
          effect: iam.Effect.ALLOW,
          principals: [new iam.AnyPrincipal()],
          actions: ['execute-api:Invoke'],
          resources,
          conditions: { ArnLike: { 'aws:PrincipalArn': allowed } },
        }),
      );
    }
    statements.push(
      new iam.PolicyStatement({
        sid: `Deny${sid}ToEveryoneElse`,
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources,
        ...(allowed.length > 0 ? { conditions: { ArnNotLike: { 'aws:PrincipalArn': allowed } } } : {}),
      }),
    );
  }
  return new iam.PolicyDocument({ statements });
}

/** The error shape of the product, for refusals API Gateway makes before the Lambda runs. */
const ERROR_TEMPLATE = (code: string) =>
  `{"error":{"code":"${code}","message":$context.error.messageString,"field":"$"}}`;

/**
 * HTTPS API, IAM-authorised (SigV4): POST /requests (202 + status URL), GET /requests/{id}, POST /plans,
 * POST /requests/{id}/rerun, the operators' actions POST /requests/{id}/cancel, POST /requests/{id}/go,
 * POST /pins/{id}/confirm, and the per-beacon GET /beacons/{instanceId}, POST /beacons/{instanceId}/rollback
 * and /retry.
 * A resource policy admits only the principals named for each permission (submit, read). API Gateway
 * checks the body's shape; the Lambda applies the full request rules.
 */
export class RequestsApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly handler: BeaconFunction;

  constructor(scope: Construct, id: string, props: RequestsApiProps) {
    super(scope, id);
    this.handler = new BeaconFunction(this, 'Handler', {
      folder: 'requests-api',
      description: 'beacon-proxy HTTPS API: requests, status, plans, cancel, go, pin confirmations',
      encryptionKey: props.encryptionKey,
      environment: { ...props.environment, [ENV.queueUrl]: props.queue.queueUrl, [ENV.stateMachineArn]: props.stateMachine.stateMachineArn },
    });
    props.queue.grantSendMessages(this.handler.fn);
    props.table.grantReadData(this.handler.fn);
    // A per-beacon rollback or retry records its request, audit trail and first status; operators' actions
    // (cancel, go, confirm a pin) update the request's rollout and the pin ledger: request and pin items only.
    this.handler.fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'WriteRequestRecordsOnly',
        actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [props.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${TABLE_KEY_PREFIXES.request}*`, `${TABLE_KEY_PREFIXES.pin}*`] } },
      }),
    );
    props.stateMachine.grantStartExecution(this.handler.fn);
    props.requestStateMachine.grantTaskResponse(this.handler.fn);

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { encryptionKey: props.encryptionKey, retention: logs.RetentionDays.SIX_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    this.api = new apigateway.RestApi(this, 'Api', {
      description: 'beacon-proxy: configure FlexNet beacons to use a proxy',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      cloudWatchRole: false,
      deployOptions: {
        stageName: 'v1',
        tracingEnabled: true,
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
      },
      defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM },
      policy: apiResourcePolicy({ submit: props.submitPrincipals, read: props.readPrincipals }),
    });
    for (const [type, code] of [
      [apigateway.ResponseType.BAD_REQUEST_BODY, 'INVALID_REQUEST'],
      [apigateway.ResponseType.BAD_REQUEST_PARAMETERS, 'INVALID_REQUEST'],
    ] as const) {
      this.api.addGatewayResponse(`${code}${type.responseType}`, { type, statusCode: '400', templates: { 'application/json': ERROR_TEMPLATE(code) } });
    }

    const requestModel = this.api.addModel('BeaconRequest', {
      contentType: 'application/json',
      schema: {
        schema: apigateway.JsonSchemaVersion.DRAFT4,
        title: 'BeaconRequest',
        type: apigateway.JsonSchemaType.OBJECT,
        required: ['target', 'protocol', 'proxy', 'account'],
        properties: {
          requestId: { type: apigateway.JsonSchemaType.STRING, pattern: PATTERNS.requestId.source },
          target: { type: apigateway.JsonSchemaType.OBJECT },
          protocol: { type: apigateway.JsonSchemaType.STRING, enum: ['https', 'http'] },
          proxy: { type: apigateway.JsonSchemaType.STRING, maxLength: 400 },
          account: { type: apigateway.JsonSchemaType.OBJECT, required: ['kind', 'name'] },
          dryRun: { type: apigateway.JsonSchemaType.BOOLEAN },
        },
      },
    });
    const requestValidator = this.api.addRequestValidator('Validator', { validateRequestBody: true, validateRequestParameters: true });
    const integration = new apigateway.LambdaIntegration(this.handler.fn);
    const withBody = { requestValidator, requestModels: { 'application/json': requestModel } };

    const withId = { requestValidator, requestParameters: { 'method.request.path.id': true } };
    const requests = this.api.root.addResource('requests');
    requests.addMethod('POST', integration, withBody);
    const request = requests.addResource('{id}');
    request.addMethod('GET', integration, withId);
    // An explicit re-run of a recorded request (a new request, linked to it): a submit permission.
    request.addResource('rerun').addMethod('POST', integration, withId);
    // Operators' actions on a running request (submit permission): cancel {"rollback": bool}, the go after a canary.
    request.addResource('cancel').addMethod('POST', integration, withId);
    request.addResource('go').addMethod('POST', integration, withId);
    // An operator set "Beacon version approved for use" in FNMS (pinMode operator).
    this.api.root.addResource('pins').addResource('{id}').addResource('confirm').addMethod('POST', integration, withId);
    this.api.root.addResource('plans').addMethod('POST', integration, withBody);

    // Per-beacon day-2 commands (lambdas/requests-api/beacons.ts): history (read), rollback and retry (submit).
    const beacon = this.api.root.addResource('beacons').addResource('{instanceId}');
    const instanceParameter = { 'method.request.path.instanceId': true };
    beacon.addMethod('GET', integration, {
      requestValidator,
      requestParameters: { ...instanceParameter, 'method.request.querystring.limit': false, 'method.request.querystring.cursor': false },
    });
    beacon.addResource('rollback').addMethod('POST', integration, { requestValidator, requestParameters: instanceParameter });
    beacon.addResource('retry').addMethod('POST', integration, { requestValidator, requestParameters: instanceParameter });
  }
}
