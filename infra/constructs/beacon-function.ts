import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Context flag for tests only: `stub` replaces the bundled code with an inline stub so a test synth
 * takes seconds; everything else about the function (role, environment, log group) stays the same.
 */
export const BUNDLING_CONTEXT_KEY = 'beacon-proxy:bundling';

export interface BeaconFunctionProps {
  /** Folder under lambdas/ whose handler.ts exports `handler`. */
  folder: string;
  description: string;
  encryptionKey: kms.IKey;
  environment?: Record<string, string>;
  timeout?: Duration;
  memorySize?: number;
}

/** A handler of lambdas/<folder>/handler.ts: Node 22, ESM bundle by the local esbuild (no Docker), X-Ray, encrypted log group. */
export class BeaconFunction extends Construct {
  readonly fn: lambda.Function;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: BeaconFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: props.encryptionKey,
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Its own role, writing only to its own log group (instead of the managed AWSLambdaBasicExecutionRole).
    this.role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `beacon-proxy ${props.folder}` });
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroup.logGroupArn] }));
    const common = {
      description: props.description,
      role: this.role,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? 512,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'beacon-proxy',
        POWERTOOLS_METRICS_NAMESPACE: 'BeaconProxy',
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
    };
    if (this.node.tryGetContext(BUNDLING_CONTEXT_KEY) === 'stub') {
      this.fn = new lambda.Function(this, 'Function', {
        ...common,
        handler: 'index.handler',
        code: lambda.Code.fromInline(`exports.handler = async () => { throw new Error('test stub of ${props.folder}'); };`),
      });
      return;
    }
    this.fn = new NodejsFunction(this, 'Function', {
      ...common,
      entry: path.join(REPO_ROOT, 'lambdas', props.folder, 'handler.ts'),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      bundling: {
        minify: true,
        sourceMap: true,
        target: 'node22',
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        // The runtime ships the v3 SDK; bundling it would only slow the cold start.
        externalModules: ['@aws-sdk/*'],
        // Some bundled CommonJS dependencies call require() at run time.
        banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        forceDockerBundling: false,
      },
    });
  }
}
