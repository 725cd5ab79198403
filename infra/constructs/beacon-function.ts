import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
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
  /** Run in these subnets (a function that must reach an on-premises FNMS); the security groups are created when none are given. */
  vpc?: FunctionVpc;
}

/**
 * What Lambda needs from a function's own role to attach it to a VPC (the content of the managed
 * AWSLambdaVPCAccessExecutionRole, granted inline: the roles here are the functions' own). EC2 evaluates
 * them on `*` for Lambda's network interfaces.
 */
export const LAMBDA_VPC_ENI_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
] as const;

export interface FunctionVpc {
  vpcId: string;
  subnetIds: string[];
  securityGroupIds: string[];
}

function vpcProps(scope: Construct, vpc: FunctionVpc): Pick<lambda.FunctionProps, 'vpc' | 'vpcSubnets' | 'securityGroups'> {
  // Attributes only (no lookup): synth stays offline.
  const imported = ec2.Vpc.fromVpcAttributes(scope, 'Vpc', { vpcId: vpc.vpcId, availabilityZones: Fn.getAzs() });
  const securityGroups =
    vpc.securityGroupIds.length > 0
      ? vpc.securityGroupIds.map((id, index) => ec2.SecurityGroup.fromSecurityGroupId(scope, `SecurityGroup${index}`, id))
      : [new ec2.SecurityGroup(scope, 'SecurityGroup', { vpc: imported, description: 'beacon-proxy: outbound to FNMS and the AWS endpoints only', allowAllOutbound: true })];
  return {
    vpc: imported,
    vpcSubnets: { subnets: vpc.subnetIds.map((id, index) => ec2.Subnet.fromSubnetId(scope, `Subnet${index}`, id)) },
    securityGroups,
  };
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
    if (props.vpc) this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...LAMBDA_VPC_ENI_ACTIONS], resources: ['*'] }));
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
      ...(props.vpc ? vpcProps(this, props.vpc) : {}),
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
      // Lambda creates the VPC network interfaces at deployment with the role: its policy must exist first.
      if (props.vpc) this.fn.node.addDependency(this.role);
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
    if (props.vpc) this.fn.node.addDependency(this.role);
  }
}
