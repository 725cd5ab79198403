/**
 * The stack's module bucket as a beacon's SSM Agent sees it: the S3 stand-in behind the documents' first step
 * (aws:downloadContent). It holds objects by key, as the stack's deployment uploads them, and answers a
 * download of a virtual-hosted-style URL with the object's bytes or with S3's error (NoSuchBucket,
 * NoSuchKey, AccessDenied). The agent writes the bytes unchanged: a changed object reaches the script as it
 * is, and the script's SHA-256 check is what refuses it.
 *
 * What SSM Agent's aws:downloadContent (source type S3) does, in order, with the instance role's credentials:
 * ListObjects on the bucket with the prefix `<key>/` (it first treats the key as a possible folder; an error
 * there fails the step), then GetObject of the key (on an S3 error it retries as an anonymous HTTPS GET, which
 * a private bucket refuses too). With `readerPolicy` set (the instance role's identity policy), both calls are
 * authorized against it as IAM would, so a policy that lacks either fails the download like on a beacon.
 */
import { BEACON_DOCUMENT_KINDS, type BeaconDocument, loadBeaconDocuments, loadModuleFile, moduleObjectKey, sha256Hex, withModuleUrl } from '../ssm-documents/documents.js';
import type { BeaconDocumentKind } from '../lambdas/core/document-contract.js';
import { type PolicyStatementJson, evaluatePolicies } from './iam-policy.js';

export class ModuleDownloadError extends Error {
  constructor(
    readonly code: 'NoSuchBucket' | 'NoSuchKey' | 'InvalidURL' | 'AccessDenied',
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

export class LocalModuleBucket {
  private readonly objects = new Map<string, Buffer>();

  /**
   * @param readerPolicy the identity policy of the beacons' instance role (its statements); when given, every
   *   download is authorized against it (ListObjects, then GetObject). Unset: reads are not checked.
   */
  constructor(
    readonly name: string,
    readonly readerPolicy?: PolicyStatementJson[],
  ) {}

  get arn(): string {
    return `arn:aws:s3:::${this.name}`;
  }

  private authorize(action: 's3:ListBucket' | 's3:GetObject', resource: string, context: Record<string, string> = {}): void {
    if (!this.readerPolicy) return;
    const decision = evaluatePolicies(this.readerPolicy, { principal: { arn: BEACON_INSTANCE_ROLE_ARN }, action, resource, context });
    if (decision !== 'allow') throw new ModuleDownloadError('AccessDenied', `Access Denied (${action} on ${resource}${context['s3:prefix'] ? ` with prefix ${context['s3:prefix']}` : ''}: ${decision})`);
  }

  /** The host the documents name for this bucket (virtual-hosted style, as the stack renders it). */
  get host(): string {
    return `${this.name}.s3.local.amazonaws.com`;
  }

  put(key: string, body: Buffer | string): void {
    this.objects.set(key, Buffer.from(body));
  }

  delete(key: string): void {
    this.objects.delete(key);
  }

  keys(): string[] {
    return [...this.objects.keys()];
  }

  /** GetObject of the URL a download step names. */
  download(url: string): Buffer {
    const parsed = /^https:\/\/([a-z0-9.-]+)\.s3\.[a-z0-9-]+\.amazonaws\.com\/(.+)$/.exec(url);
    if (!parsed) throw new ModuleDownloadError('InvalidURL', `not an S3 object URL: ${url}`);
    const [, bucket, key] = parsed as unknown as [string, string, string];
    if (bucket !== this.name) throw new ModuleDownloadError('NoSuchBucket', `The specified bucket does not exist: ${bucket}`);
    const objectKey = decodeURIComponent(key);
    // ListObjects with the prefix "<key>/": the agent's folder check, before the object itself.
    this.authorize('s3:ListBucket', this.arn, { 's3:prefix': `${objectKey}/` });
    this.authorize('s3:GetObject', `${this.arn}/${objectKey}`);
    const body = this.objects.get(objectKey);
    if (!body) throw new ModuleDownloadError('NoSuchKey', `The specified key does not exist: ${key}`);
    return Buffer.from(body);
  }
}

/** The beacons' instance role as the stand-in authorizes it (any role: the policy is what is checked). */
export const BEACON_INSTANCE_ROLE_ARN = 'arn:aws:iam::123456789012:role/beacon-instance-role';

/** The bucket the local twin and the document tests deploy to. */
export const LOCAL_MODULE_BUCKET_NAME = 'beacon-proxy-local-modules';

/** A bucket holding the committed module file under its content-addressed key, as the stack's deployment leaves it. */
export function deployedModuleBucket(name = LOCAL_MODULE_BUCKET_NAME, readerPolicy?: PolicyStatementJson[]): LocalModuleBucket {
  const bucket = new LocalModuleBucket(name, readerPolicy);
  const module = loadModuleFile();
  bucket.put(moduleObjectKey(sha256Hex(module)), module);
  return bucket;
}

/** The committed documents as the stack registers them for `bucket`: the download step names its URL. */
export function documentsFor(bucket: LocalModuleBucket): Record<BeaconDocumentKind, BeaconDocument> {
  const committed = loadBeaconDocuments();
  return Object.fromEntries(BEACON_DOCUMENT_KINDS.map((kind) => [kind, withModuleUrl(committed[kind], bucket.host)])) as Record<BeaconDocumentKind, BeaconDocument>;
}
