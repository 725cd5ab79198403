import { Stack } from 'aws-cdk-lib';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { BEACON_DOCUMENTS, type BeaconDocumentKind } from '../../lambdas/core/document-contract.js';
import { loadBeaconDocuments } from '../../ssm-documents/documents.js';

export interface BeaconDocumentsProps {
  /** Appended to the names of BEACON_DOCUMENTS, so two stacks in one account and region do not collide. */
  nameSuffix: string;
}

/** The three beacon Run Command documents, registered from ssm-documents/generated (the one source). */
export class BeaconDocuments extends Construct {
  readonly names: Record<BeaconDocumentKind, string>;
  readonly arns: string[];
  readonly documents: Record<BeaconDocumentKind, ssm.CfnDocument>;

  constructor(scope: Construct, id: string, props: BeaconDocumentsProps) {
    super(scope, id);
    const contents = loadBeaconDocuments();
    const kinds = Object.keys(BEACON_DOCUMENTS) as BeaconDocumentKind[];
    this.names = Object.fromEntries(kinds.map((kind) => [kind, `${BEACON_DOCUMENTS[kind]}-${props.nameSuffix}`])) as Record<BeaconDocumentKind, string>;
    this.documents = Object.fromEntries(
      kinds.map((kind) => [
        kind,
        new ssm.CfnDocument(this, kind, {
          name: this.names[kind],
          documentType: 'Command',
          documentFormat: 'JSON',
          content: contents[kind],
          // A named document cannot be replaced in place; a new version keeps the name.
          updateMethod: 'NewVersion',
        }),
      ]),
    ) as Record<BeaconDocumentKind, ssm.CfnDocument>;
    this.arns = kinds.map((kind) => this.arnOf(kind));
  }

  arnOf(kind: BeaconDocumentKind): string {
    const stack = Stack.of(this);
    return `arn:${stack.partition}:ssm:${stack.region}:${stack.account}:document/${this.names[kind]}`;
  }
}
