import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { MODULE_KEY_PREFIX, loadModuleFile, moduleObjectKey, sha256Hex } from '../../ssm-documents/documents.js';

/**
 * The beacon module file (ssm-documents/generated/BeaconProxy-Module.ps1) in a bucket of the stack, under its
 * SHA-256: the documents download it (aws:downloadContent) and run it only when its SHA-256 is the one they pin.
 * Integrity comes from that check; the text itself is the repository's, not a secret, so the bucket uses
 * S3-managed encryption and no beacon needs a key. Private, TLS only, versioned (what was ever uploaded under a
 * key stays on record). Earlier modules stay (no prune): a command sent just before a deployment still finds
 * the module its document pins.
 */
export class BeaconModule extends Construct {
  readonly bucket: s3.Bucket;
  /** Where module files are: every object under it is named by its SHA-256 (beacons may read this prefix only). */
  readonly keyPrefix = MODULE_KEY_PREFIX;
  /** The object key of the module the documents pin: beacon-proxy/module/<sha256>.ps1. */
  readonly key: string;
  readonly sha256: string;
  readonly deployment: s3deploy.BucketDeployment;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const module = loadModuleFile();
    this.sha256 = sha256Hex(module);
    this.key = moduleObjectKey(this.sha256);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'ExpireReplacedVersions', noncurrentVersionExpiration: Duration.days(365) }],
      // The module of a deployed document must outlive a stack update; on stack deletion the bucket is kept.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.deployment = new s3deploy.BucketDeployment(this, 'Upload', {
      destinationBucket: this.bucket,
      sources: [s3deploy.Source.data(this.key, module.toString('utf8'))],
      prune: false,
      retainOnDelete: true,
      contentType: 'text/plain; charset=utf-8',
      memoryLimit: 256,
    });
  }

  /** The host the documents' download step names (virtual-hosted style, regional). */
  get host(): string {
    return this.bucket.bucketRegionalDomainName;
  }
}
