// Generates ssm-documents/generated/<DocumentName>.json and the module file BeaconProxy-Module.ps1 from the
// PowerShell sources. Run with `npx tsx ssm-documents/build.ts` (or `npm run build:documents`) and commit the
// result; a test fails when a committed file differs from what this produces.
import { mkdirSync, writeFileSync } from 'node:fs';
import { BEACON_DOCUMENTS } from '../lambdas/core/document-contract.js';
import { LIMITS } from '../lambdas/core/limits.js';
import {
  BEACON_DOCUMENT_KINDS,
  GENERATED_DIR,
  MAX_DOCUMENT_BYTES,
  MODULE_FILE_PATH,
  compactPowerShell,
  generatedDocumentPath,
  moduleText,
  renderBeaconDocument,
  serializeBeaconDocument,
  sha256Hex,
} from './documents.js';

mkdirSync(GENERATED_DIR, { recursive: true });
const module = moduleText();
const sha256 = sha256Hex(module);
writeFileSync(MODULE_FILE_PATH, module);
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
console.log(`BeaconProxy-Module.ps1: ${kb(Buffer.byteLength(module))}, SHA-256 ${sha256}`);
// Why the module is a file of its own: even compacted it would not fit a document beside its parameters.
const compacted = Buffer.byteLength(compactPowerShell(module));
console.log(`  inline it would take ${kb(compacted)} compacted (no comments) + ${kb(LIMITS.maxDesiredStateBase64Length)} of parameters, over the ${kb(MAX_DOCUMENT_BYTES)} limit`);

for (const kind of BEACON_DOCUMENT_KINDS) {
  const text = serializeBeaconDocument(renderBeaconDocument(kind, sha256));
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes + LIMITS.maxDesiredStateBase64Length > MAX_DOCUMENT_BYTES) {
    console.error(`${BEACON_DOCUMENTS[kind]}: ${bytes} bytes + ${LIMITS.maxDesiredStateBase64Length} of parameters, over the ${MAX_DOCUMENT_BYTES}-byte SSM limit`);
    process.exit(1);
  }
  writeFileSync(generatedDocumentPath(kind), text);
  console.log(`${BEACON_DOCUMENTS[kind]}: ${bytes} bytes (${(((bytes + LIMITS.maxDesiredStateBase64Length) / MAX_DOCUMENT_BYTES) * 100).toFixed(0)}% of 64 KB with the largest parameters)`);
}
