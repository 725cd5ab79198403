import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage, Duration, Fn, type ILocalBundling, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type BuildOptions, buildSync } from 'esbuild';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Where a function's AWS SDK v3 comes from: `bundled` (the clients it imports, tree-shaken and minified into
 * its own bundle) or `external` (the copy the Lambda runtime ships, imported from outside the bundle).
 */
export type SdkPlacement = 'bundled' | 'external';

export interface FunctionBundling {
  sdk: SdkPlacement;
}

/**
 * The bundling of each function (by its lambdas/<folder>), chosen by cold init: `npm run bench` measures every
 * function of the stack both ways in one run and reports both columns (bench/results.md, "Cold init"), with
 * the faster one marked. Importing the runtime's SDK from outside the bundle costs 230-480 ms of init (the
 * package files are many and read one by one); the same clients bundled cost a fraction of that. A folder
 * without an entry gets DEFAULT_FUNCTION_BUNDLING (the bench says "default" beside it).
 */
export const DEFAULT_FUNCTION_BUNDLING: FunctionBundling = { sdk: 'bundled' };
export const FUNCTION_BUNDLING: Readonly<Record<string, FunctionBundling>> = {
  'acquire-lock': { sdk: 'bundled' },
  'advance-rollout': { sdk: 'bundled' },
  'await-operator': { sdk: 'bundled' },
  'check-cancelled': { sdk: 'bundled' },
  'chatops-webhook': { sdk: 'bundled' },
  'decide-pin': { sdk: 'bundled' },
  'drift-check': { sdk: 'bundled' },
  'execution-cleanup': { sdk: 'bundled' },
  intake: { sdk: 'bundled' },
  'new-beacon': { sdk: 'bundled' },
  'notify-requester': { sdk: 'bundled' },
  'poll-command': { sdk: 'bundled' },
  'prepare-targets': { sdk: 'bundled' },
  'record-outcome': { sdk: 'bundled' },
  'release-lock': { sdk: 'bundled' },
  'requests-api': { sdk: 'bundled' },
  'resolve-target': { sdk: 'bundled' },
  'send-command': { sdk: 'bundled' },
  'summarize-request': { sdk: 'bundled' },
};

export function functionBundling(folder: string): FunctionBundling {
  return FUNCTION_BUNDLING[folder] ?? DEFAULT_FUNCTION_BUNDLING;
}

/** NODE_OPTIONS of every function: stack traces point at the TypeScript sources (the bench measures init with it). */
export const FUNCTION_NODE_OPTIONS = '--enable-source-maps';

/** The entry module a function's asset starts with (the Lambda handler is `index.handler`). */
export const FUNCTION_ENTRY_FILE = 'index.mjs';

/**
 * The esbuild options of a function's bundle: the one definition the stack's assets and `npm run bench` both
 * build with. ESM for node22, minified; code split into chunks, so what a function imports with `import()`
 * (adapters of another configured mode, clients of rare paths, the SDK's other credential providers) is a
 * file of its own, read only when that path runs. Source maps without the sources' text: the stack traces
 * name the TypeScript file and line, and the map stays small enough to parse at init.
 */
export function functionBuildOptions(folder: string, outdir: string, bundling: FunctionBundling = functionBundling(folder)): BuildOptions {
  return {
    absWorkingDir: REPO_ROOT,
    entryPoints: { index: path.join(REPO_ROOT, 'lambdas', folder, 'handler.ts') },
    outdir,
    bundle: true,
    splitting: true,
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    format: 'esm',
    target: 'node22',
    platform: 'node',
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    mainFields: ['module', 'main'],
    external: bundling.sdk === 'external' ? ['@aws-sdk/*'] : [],
    // Some bundled CommonJS dependencies call require() at run time.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    legalComments: 'none',
    logLevel: 'silent',
  };
}

/** Bundles a function with the local esbuild (no Docker). Its fields are part of CDK's asset cache key. */
class LocalFunctionBundling implements ILocalBundling {
  constructor(
    readonly folder: string,
    readonly bundling: FunctionBundling,
  ) {}

  tryBundle(outputDir: string): boolean {
    buildSync(functionBuildOptions(this.folder, outputDir, this.bundling));
    return true;
  }
}

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

/** A handler of lambdas/<folder>/handler.ts: Node 22, ESM bundle by the local esbuild (no Docker, functionBuildOptions), X-Ray, encrypted log group. */
export class BeaconFunction extends Construct {
  readonly fn: lambda.Function;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;
  /** lambdas/<folder> of the handler, and how it is bundled (the bench finds the stack's functions by these). */
  readonly folder: string;
  readonly bundling: FunctionBundling;

  constructor(scope: Construct, id: string, props: BeaconFunctionProps) {
    super(scope, id);
    this.folder = props.folder;
    this.bundling = functionBundling(props.folder);
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
        NODE_OPTIONS: FUNCTION_NODE_OPTIONS,
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
    this.fn = new lambda.Function(this, 'Function', {
      ...common,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(path.join(REPO_ROOT, 'lambdas', props.folder), {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          local: new LocalFunctionBundling(props.folder, this.bundling),
          // Never used: the local esbuild always bundles (it throws on a build error instead of falling back).
          image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
        },
      }),
    });
    if (props.vpc) this.fn.node.addDependency(this.role);
  }
}
