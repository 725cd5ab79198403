import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { BeaconFunction } from '../../infra/constructs/beacon-function.js';

describe('Lambda bundling', () => {
  it('bundles a handler with the local esbuild into one ESM file (no Docker), leaving the AWS SDK to the runtime', () => {
    const app = new App();
    const stack = new Stack(app, 'BundlingCheck');
    new BeaconFunction(stack, 'Poll', { folder: 'poll-command', description: 'bundling check', encryptionKey: new kms.Key(stack, 'Key') });
    // Only node and the project's binaries on PATH: a Docker bundling attempt could not start.
    const previousPath = process.env.PATH;
    process.env.PATH = [dirname(process.execPath), join(process.cwd(), 'node_modules', '.bin')].join(':');
    let assembly: ReturnType<App['synth']>;
    try {
      assembly = app.synth();
    } finally {
      process.env.PATH = previousPath;
    }
    const assets = readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
    expect(assets).toHaveLength(1);
    const bundle = join(assembly.directory, assets[0]!, 'index.mjs');
    expect(existsSync(bundle)).toBe(true);
    const code = readFileSync(bundle, 'utf8');
    expect(code.startsWith("import { createRequire } from 'node:module';")).toBe(true);
    expect(code).toMatch(/export\s*\{[^}]*as handler/);
    expect(code).not.toMatch(/\n\s+\n/); // minified
    const template = assembly.getStackByName('BundlingCheck').template as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function')!;
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Handler: 'index.handler' });
  });
});
