// Generates ssm-documents/generated/<DocumentName>.json from the PowerShell sources. Run with
// `npx tsx ssm-documents/build.ts` (or `npm run build:documents`) and commit the result; a test fails when
// a committed document differs from what this produces.
import { mkdirSync, writeFileSync } from 'node:fs';
import { BEACON_DOCUMENTS } from '../lambdas/core/document-contract.js';
import { BEACON_DOCUMENT_KINDS, GENERATED_DIR, MAX_DOCUMENT_BYTES, generatedDocumentPath, renderBeaconDocument, serializeBeaconDocument } from './documents.js';

mkdirSync(GENERATED_DIR, { recursive: true });
for (const kind of BEACON_DOCUMENT_KINDS) {
  const text = serializeBeaconDocument(renderBeaconDocument(kind));
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_DOCUMENT_BYTES) {
    console.error(`${BEACON_DOCUMENTS[kind]}: ${bytes} bytes, over the ${MAX_DOCUMENT_BYTES}-byte SSM limit`);
    process.exit(1);
  }
  writeFileSync(generatedDocumentPath(kind), text);
  console.log(`${BEACON_DOCUMENTS[kind]}: ${bytes} bytes (${((bytes / MAX_DOCUMENT_BYTES) * 100).toFixed(0)}% of 64 KB)`);
}
