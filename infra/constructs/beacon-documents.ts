import { Stack } from 'aws-cdk-lib';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { BEACON_DOCUMENTS, type BeaconDocumentKind } from '../../lambdas/core/document-contract.js';
import { loadBeaconDocuments, moduleLocationOf, withModuleUrl } from '../../ssm-documents/documents.js';
import type { BeaconModule } from './beacon-module.js';

export interface BeaconDocumentsProps {
  /** Appended to the names of BEACON_DOCUMENTS, so two stacks in one account and region do not collide. */
  nameSuffix: string;
  /** The bucket the documents download their module file from (it must hold the module they pin). */
  module: BeaconModule;
}

/**
 * The three beacon Run Command documents, registered from ssm-documents/generated (the one source) with the
 * stack's module bucket in their download step. Registered only after the module is uploaded.
 */
export class BeaconDocuments extends Construct {
  readonly names: Record<BeaconDocumentKind, string>;
  readonly arns: string[];
  readonly documents: Record<BeaconDocumentKind, ssm.CfnDocument>;

  constructor(scope: Construct, id: string, props: BeaconDocumentsProps) {
    super(scope, id);
    const committed = loadBeaconDocuments();
    const kinds = Object.keys(BEACON_DOCUMENTS) as BeaconDocumentKind[];
    this.names = Object.fromEntries(kinds.map((kind) => [kind, `${BEACON_DOCUMENTS[kind]}-${props.nameSuffix}`])) as Record<BeaconDocumentKind, string>;
    this.documents = Object.fromEntries(
      kinds.map((kind) => [
        kind,
        new ssm.CfnDocument(this, kind, {
          name: this.names[kind],
          documentType: 'Command',
          documentFormat: 'JSON',
          content: withModuleUrl(committed[kind], props.module.host),
          // A named document cannot be replaced in place; a new version keeps the name.
          updateMethod: 'NewVersion',
        }),
      ]),
    ) as Record<BeaconDocumentKind, ssm.CfnDocument>;
    this.arns = kinds.map((kind) => this.arnOf(kind));
    for (const kind of kinds) {
      const pinned = moduleLocationOf(committed[kind]).sha256;
      if (pinned !== props.module.sha256) throw new Error(`${BEACON_DOCUMENTS[kind]} pins module ${pinned} but the stack uploads ${props.module.sha256}: run npm run build:documents`);
      this.documents[kind].node.addDependency(props.module.deployment);
    }
  }

  arnOf(kind: BeaconDocumentKind): string {
    const stack = Stack.of(this);
    return `arn:${stack.partition}:ssm:${stack.region}:${stack.account}:document/${this.names[kind]}`;
  }
}
