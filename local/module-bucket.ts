/**
 * The stack's module bucket as a beacon's SSM Agent sees it: the S3 stand-in behind the documents' first step
 * (aws:downloadContent). It holds objects by key, as the stack's deployment uploads them, and answers a
 * download of a virtual-hosted-style URL with the object's bytes or with S3's error (NoSuchBucket,
 * NoSuchKey). The agent writes the bytes unchanged: a changed object reaches the script as it is, and the
 * script's SHA-256 check is what refuses it.
 */
import { BEACON_DOCUMENT_KINDS, type BeaconDocument, loadBeaconDocuments, loadModuleFile, moduleObjectKey, sha256Hex, withModuleUrl } from '../ssm-documents/documents.js';
import type { BeaconDocumentKind } from '../lambdas/core/document-contract.js';

export class ModuleDownloadError extends Error {
  constructor(
    readonly code: 'NoSuchBucket' | 'NoSuchKey' | 'InvalidURL',
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

export class LocalModuleBucket {
  private readonly objects = new Map<string, Buffer>();

  constructor(readonly name: string) {}

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
    const body = this.objects.get(decodeURIComponent(key));
    if (!body) throw new ModuleDownloadError('NoSuchKey', `The specified key does not exist: ${key}`);
    return Buffer.from(body);
  }
}

/** The bucket the local twin and the document tests deploy to. */
export const LOCAL_MODULE_BUCKET_NAME = 'beacon-proxy-local-modules';

/** A bucket holding the committed module file under its content-addressed key, as the stack's deployment leaves it. */
export function deployedModuleBucket(name = LOCAL_MODULE_BUCKET_NAME): LocalModuleBucket {
  const bucket = new LocalModuleBucket(name);
  const module = loadModuleFile();
  bucket.put(moduleObjectKey(sha256Hex(module)), module);
  return bucket;
}

/** The committed documents as the stack registers them for `bucket`: the download step names its URL. */
export function documentsFor(bucket: LocalModuleBucket): Record<BeaconDocumentKind, BeaconDocument> {
  const committed = loadBeaconDocuments();
  return Object.fromEntries(BEACON_DOCUMENT_KINDS.map((kind) => [kind, withModuleUrl(committed[kind], bucket.host)])) as Record<BeaconDocumentKind, BeaconDocument>;
}
