import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeDesiredState } from '../../lambdas/core/desired-state.js';
import { ROOT } from '../support/requests.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the installed `beacon-proxy` command as a user would, as a separate process. */
function cli(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'beacon-proxy.mjs'), ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

describe('beacon-proxy render', () => {
  it('prints requestId, desiredState and documentParameters and exits 0', async () => {
    const run = await cli(['render', 'examples/https-one-proxy.json']);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.requestId).toBe('example-https-one-proxy');
    expect(out.desiredState.registry).toHaveLength(6);
    expect(decodeDesiredState(out.documentParameters.DesiredState[0])).toEqual(out.desiredState);
  });

  it('reads the request from stdin with -', async () => {
    const request = {
      target: { instanceIds: ['i-0123456789abcdef0'] },
      protocol: 'http',
      proxy: 'proxy:3128',
      account: { kind: 'gmsa', name: 'CORP\\gmsa$' },
    };
    const run = await cli(['render', '-'], JSON.stringify(request));
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).desiredState.protocol).toBe('http');
  });

  it('an invalid request prints the error as JSON on stdout and exits 2', async () => {
    const request = { target: { instanceIds: ['i-0123456789abcdef0'] }, protocol: 'https', proxy: 'http://proxy/wpad.dat', account: { kind: 'gmsa', name: 'C\\g$' } };
    const run = await cli(['render', '-'], JSON.stringify(request));
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toEqual({ error: { code: 'PAC_UNSUPPORTED', message: expect.stringContaining('PAC'), field: 'proxy' } });
  });

  it('an unreadable file exits 1 with a message on stderr and nothing on stdout', async () => {
    const run = await cli(['render', 'examples/does-not-exist.json']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('cannot read examples/does-not-exist.json');
  });
});

describe('beacon-proxy validate', () => {
  it('prints {"ok": true} for a valid request', async () => {
    const run = await cli(['validate', 'examples/crl-disabled.json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ ok: true, requestId: 'example-crl-disabled' });
  });

  it('refuses an authenticating proxy with exit 2', async () => {
    const request = { target: { tag: { key: 'beacon', value: 'yes' } }, protocol: 'https', proxy: 'bob:pw@proxy:8080', account: { kind: 'gmsa', name: 'C\\g$' } };
    const run = await cli(['validate', '-'], JSON.stringify(request));
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout).error).toMatchObject({ code: 'PROXY_AUTH_UNSUPPORTED', field: 'proxy' });
    expect(run.stdout).not.toContain('pw@');
  });

  it('invalid JSON on stdin is a refused request (exit 2), not a crash', async () => {
    const run = await cli(['validate', '-'], '{"target":');
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout).error.code).toBe('INVALID_REQUEST');
  });
});

describe('help', () => {
  it.each(['render', 'validate', 'submit', 'plan', 'status', 'rerun', 'redrive'])('%s --help shows usage with an example and exits 0', async (command) => {
    const run = await cli([command, '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`beacon-proxy ${command}`);
    expect(run.stdout).toContain('Example');
  });

  it('an unknown command exits 1 and lists the commands', async () => {
    const run = await cli(['frobnicate']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('unknown command');
  });
});
