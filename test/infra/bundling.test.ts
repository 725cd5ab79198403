import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleFunction, initInputs, packageOf, stackFunctions } from '../../bench/bundles.js';
import { BeaconFunction, FUNCTION_BUNDLING, FUNCTION_ENTRY_FILE, FUNCTION_NODE_OPTIONS, functionBundling } from '../../infra/constructs/beacon-function.js';
import { REPO_ROOT } from '../../infra/constructs/beacon-function.js';
import { ENV } from '../../lambdas/aws/env-names.js';
import { synthStack } from './synth.js';

const scratch = mkdtempSync(join(tmpdir(), 'beacon-bundling-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Imports a function's asset in a fresh Node (the stack's NODE_OPTIONS) from a folder with no node_modules above it, as Lambda would. */
function importInFreshNode(assetDir: string): { status: number | null; stdout: string; stderr: string } {
  const copy = mkdtempSync(join(scratch, 'lambda-task-'));
  cpSync(assetDir, copy, { recursive: true });
  const probe = `const m = await import(process.argv[1]); process.stdout.write(typeof m.handler);`;
  const run = spawnSync(process.execPath, [...FUNCTION_NODE_OPTIONS.split(' '), '--input-type=module', '-e', probe, pathToFileURL(join(copy, FUNCTION_ENTRY_FILE)).href], {
    cwd: copy,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1' },
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('Lambda bundling', () => {
  it('bundles a function with the local esbuild (no Docker) into ESM chunks that carry the SDK: the asset loads with no node_modules around it', () => {
    const app = new App();
    const stack = new Stack(app, 'BundlingCheck');
    new BeaconFunction(stack, 'Poll', { folder: 'poll-command', description: 'bundling check', encryptionKey: new kms.Key(stack, 'Key') });
    // Only node and the project's binaries on PATH: a Docker bundling attempt could not start.
    const previousPath = process.env.PATH;
    process.env.PATH = [dirname(process.execPath), join(process.cwd(), 'node_modules', '.bin')].join(':');
    let assembly: ReturnType<App['synth']>;
    try {
      assembly = app.synth({ force: true });
    } finally {
      process.env.PATH = previousPath;
    }
    const assets = readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
    expect(assets).toHaveLength(1);
    const assetDir = join(assembly.directory, assets[0]!);
    const files = readdirSync(assetDir);
    expect(files).toContain(FUNCTION_ENTRY_FILE);
    expect(files.filter((name) => /^chunk-[A-Z0-9]+\.mjs$/.test(name)).length).toBeGreaterThan(0);
    const code = readFileSync(join(assetDir, FUNCTION_ENTRY_FILE), 'utf8');
    expect(code.startsWith("import { createRequire } from 'node:module';")).toBe(true);
    expect(code).toMatch(/export\s*\{[^}]*as handler/);
    // Minified: long lines (only template literals keep their line breaks).
    expect(code.length / code.split('\n').length).toBeGreaterThan(1000);
    // The SDK is inside the asset: no chunk imports @aws-sdk/* from outside.
    for (const file of files.filter((name) => name.endsWith('.mjs'))) expect(readFileSync(join(assetDir, file), 'utf8')).not.toMatch(/from\s*["']@aws-sdk\//);
    // Source maps name the TypeScript sources without carrying their text.
    const map = JSON.parse(readFileSync(join(assetDir, `${FUNCTION_ENTRY_FILE}.map`), 'utf8')) as { sources: string[]; sourcesContent?: unknown };
    expect(map.sources.some((source) => source.endsWith('lambdas/poll-command/handler.ts'))).toBe(true);
    expect(map.sourcesContent).toBeUndefined();
    const loaded = importInFreshNode(assetDir);
    expect(loaded.stderr).toBe('');
    expect(loaded).toMatchObject({ status: 0, stdout: 'function' });
    const template = assembly.getStackByName('BundlingCheck').template as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function')!;
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Handler: 'index.handler' });
  });

  it('a function whose bundling says external imports the runtime SDK from outside its bundle, and only then', async () => {
    const external = await bundleFunction('release-lock', 'external', join(scratch, 'external'));
    const bundled = await bundleFunction('release-lock', 'bundled', join(scratch, 'bundled'));
    expect(external.externalSdkAtInit).toEqual(expect.arrayContaining(['@aws-sdk/client-dynamodb']));
    expect(initInputs(external.metafile, Object.keys(external.metafile.outputs).find((f) => f.endsWith(`/${FUNCTION_ENTRY_FILE}`))!).some((input) => input.includes('node_modules/@aws-sdk/'))).toBe(false);
    expect(bundled.externalSdkAtInit).toEqual([]);
    expect(bundled.initBytes).toBeGreaterThan(external.initBytes);
  });
});

describe('the bundling choice is data in the infra, one entry per function the stack deploys', () => {
  // Every optional part on: the chat webhook is deployed only when chat is configured.
  const { stack } = synthStack({ stackName: 'BundlingChoice', chatEnabled: true });
  const deployed = stack.node.findAll().filter((node): node is BeaconFunction => node instanceof BeaconFunction);

  it('every function of the stack is bundled as FUNCTION_BUNDLING says (the default for one it does not name)', () => {
    expect(deployed.length).toBeGreaterThan(10);
    for (const fn of deployed) expect(fn.bundling).toEqual(functionBundling(fn.folder));
  });

  it('FUNCTION_BUNDLING names no function the stack no longer has (a removed handler leaves no stale entry)', () => {
    const folders = new Set(deployed.map((fn) => fn.folder));
    expect(Object.keys(FUNCTION_BUNDLING).filter((folder) => !folders.has(folder))).toEqual([]);
  });

  it('FUNCTION_BUNDLING names every function of the stack: each one\'s SDK placement is a choice the bench measured, not a default', () => {
    expect(deployed.map((fn) => fn.folder).filter((folder) => !(folder in FUNCTION_BUNDLING))).toEqual([]);
  });

  it('the bench measures exactly the functions of the stack (found in the synthesized stack, not in a list of its own)', () => {
    const measured = stackFunctions(REPO_ROOT);
    expect(measured.filter((fn) => fn.inStack).map((fn) => fn.folder).sort()).toEqual([...new Set(deployed.map((fn) => fn.folder))].sort());
    for (const fn of measured) expect(existsSync(join(REPO_ROOT, 'lambdas', fn.folder, 'handler.ts'))).toBe(true);
  });
});

describe('what a function loads at init: rare paths and other modes stay out of the entry', () => {
  const atInit = async (folder: string) => {
    const bundle = await bundleFunction(folder, functionBundling(folder).sdk, join(scratch, `init-${folder}`));
    const entry = Object.keys(bundle.metafile.outputs).find((f) => f.endsWith(`/${FUNCTION_ENTRY_FILE}`))!;
    const init = new Set(initInputs(bundle.metafile, entry).map(packageOf));
    const all = new Set(Object.values(bundle.metafile.outputs).flatMap((output) => Object.keys(output.inputs).map(packageOf)));
    return { init, all };
  };

  it.each(['decide-pin', 'new-beacon'])('%s: the on-premises inventory adapter (XML parser, NTLM client) is a chunk of its own, not loaded at init', async (folder) => {
    const { init, all } = await atInit(folder);
    for (const pkg of ['fast-xml-parser', '@ewsjs/ntlm-client']) {
      expect(all.has(pkg), `${pkg} in the bundle`).toBe(true);
      expect(init.has(pkg), `${pkg} at init`).toBe(false);
    }
  });

  it('intake: the X-Ray SDK (only with traceSdkCalls) and the SNS client (refusals, operator answers) are not loaded at init; SSM is not in it at all (the request workflow expands tags)', async () => {
    const { init, all } = await atInit('intake');
    for (const pkg of ['aws-xray-sdk-core', '@aws-sdk/client-sns']) {
      expect(all.has(pkg), `${pkg} in the bundle`).toBe(true);
      expect(init.has(pkg), `${pkg} at init`).toBe(false);
    }
    expect(all.has('@aws-sdk/client-ssm'), '@aws-sdk/client-ssm in the bundle').toBe(false);
    expect(init.has('@aws-sdk/client-sfn')).toBe(true);
  });
});

describe('SDK-call tracing of the intake is opt-in (traceSdkCalls): the X-Ray SDK costs cold init', () => {
  const intakeVariables = (context: Record<string, unknown>) => {
    const { template } = synthStack({ stackName: 'Tracing', ...context });
    const fns = Object.values(template.findResources('AWS::Lambda::Function')) as Array<{ Properties: { Description?: string; Environment?: { Variables?: Record<string, unknown> } } }>;
    return fns.find((fn) => fn.Properties.Description?.startsWith('beacon-proxy intake'))!.Properties.Environment!.Variables!;
  };

  /** The middleware of an SDK client the intake module builds, as Lambda would run it (tracing on inside Lambda only). */
  const intakeClientMiddleware = (trace: string | undefined): string[] => {
    const probe = `await import('./lambdas/intake/handler.ts'); const { instrumented } = await import('./lambdas/aws/clients/sdk.ts'); const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb'); process.stdout.write(JSON.stringify(instrumented(new DynamoDBClient({})).middlewareStack.identify()));`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-1', AWS_LAMBDA_FUNCTION_NAME: 'intake', AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', ...(trace ? { TRACE_SDK_CALLS: trace } : {}) },
    });
    expect(run.status, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as string[];
  };

  it('by default the stack does not ask for it and the intake builds its clients without X-Ray middleware', () => {
    expect(intakeVariables({})[ENV.traceSdkCalls]).toBeUndefined();
    expect(intakeClientMiddleware(undefined).filter((name) => name.startsWith('XRaySDK'))).toEqual([]);
  });

  it('traceSdkCalls=true sets it on the intake, which then traces every SDK call (X-Ray subsegments)', () => {
    expect(intakeVariables({ traceSdkCalls: 'true' })[ENV.traceSdkCalls]).toBe('true');
    expect(intakeClientMiddleware('true')).toContain('XRaySDKInstrumentation - build');
  });
});
