import { describe, expect, test } from 'vitest';
import { DEFAULT_PARAMETER_NAME, DEFAULT_SECRET_ARN, freshBeacon, sha256Hex, type BeaconModel } from '../../local/beacon-model.js';
import { encodeDesiredState } from '../../lambdas/core/desired-state.js';
import { runBeaconDocument } from '../../local/run-document.js';
import { captureFiles, configure, desiredState, newBeacon, readText, rollback, scenarioDir, verify, type DocumentOutcome } from './helpers.js';

// Characters that JSON, PowerShell strings and command lines treat specially.
const PASSWORD = `Pa"ss\\w0rd'$(whoami)\`n;<local>`;
const SECRETS = { [DEFAULT_SECRET_ARN]: PASSWORD, [DEFAULT_PARAMETER_NAME]: PASSWORD };

function forms(secret: string): string[] {
  return [secret, JSON.stringify(secret).slice(1, -1), Buffer.from(secret, 'utf8').toString('base64')];
}

function withoutSecrets(model: BeaconModel): string {
  const { secrets: _secrets, ...rest } = model;
  return JSON.stringify(rest);
}

describe('the account password never appears in output, errors, captures or beacon state', () => {
  test('across success, re-run, local account creation, failure with rollback, wrong password, verify and rollback', async () => {
    const texts: string[] = [];
    const collect = ({ run, model }: DocumentOutcome, path: string) => {
      texts.push(run.stdout, run.stderr, withoutSecrets(model), ...captureFiles(path).map(readText));
    };

    const domainPath = newBeacon(scenarioDir('secret-domain'), freshBeacon({ secrets: SECRETS, account: { password: PASSWORD } }));
    const first = await configure(domainPath, desiredState());
    expect(first.result.ok).toBe(true);
    expect(first.model.services[0]!.passwordSha256).toBe(sha256Hex(PASSWORD));
    collect(first, domainPath);
    collect(await configure(domainPath, desiredState()), domainPath);
    collect(await verify(domainPath, desiredState()), domainPath);
    collect(await rollback(domainPath, 'req-ssm-test'), domainPath);

    const localPath = newBeacon(scenarioDir('secret-local'), freshBeacon({ secrets: SECRETS, account: { kind: 'local', name: 'svc-beacon', exists: false } }));
    const local = await configure(localPath, desiredState({ account: { kind: 'local', name: 'svc-beacon', passwordParameterName: DEFAULT_PARAMETER_NAME } }));
    expect(local.result.ok).toBe(true);
    collect(local, localPath);

    const failingPath = newBeacon(scenarioDir('secret-fail'), freshBeacon({ secrets: SECRETS, account: { password: PASSWORD }, faults: { serviceFailsToStart: true } }));
    const failing = await configure(failingPath, desiredState());
    expect(failing.result.rollback?.ok).toBe(true);
    collect(failing, failingPath);

    // The secret is not the account's password: the task scheduler refuses it, with an error message.
    const wrongPath = newBeacon(scenarioDir('secret-wrong'), freshBeacon({ secrets: SECRETS, account: { password: 'the-real-one' } }));
    const wrong = await configure(wrongPath, desiredState());
    expect(wrong.result.ok).toBe(false);
    collect(wrong, wrongPath);

    expect(texts.length).toBeGreaterThan(20);
    // The scan covers the before -> after values: configure's diff, a plan's diff and a rollback's diff.
    const lines = texts.filter((text) => text.startsWith('{"ok"'));
    expect(lines.some((line) => /"document":"configure".*"diff":\[\{"id":"service:logon"/.test(line))).toBe(true);
    expect(lines.some((line) => /"document":"rollback".*"rollback":\{.*"diff":\[\{/.test(line))).toBe(true);
    expect(lines.some((line) => /"document":"configure".*"rollback":\{"attempted":true.*"diff":\[\{/.test(line))).toBe(true);
    for (const text of texts) {
      for (const form of forms(PASSWORD)) expect(text.includes(form), `found the password in: ${text.slice(0, 300)}`).toBe(false);
    }
  });

  test('a password found in a proxy value on the beacon is masked in every result line: checks and before -> after values of a plan, a run and a rollback', async () => {
    // Somebody once put the account and its password into the old proxy URLs (FlexNet never needed them); a
    // https request removes http_proxy and rewrites https_proxy. Verify and rollback do not read the secret:
    // only hiding the user info of a URL keeps it out of their lines.
    const beacon = freshBeacon({ secrets: SECRETS, account: { password: PASSWORD } });
    const root = Object.keys(beacon.registry).find((key) => key.endsWith('\\ManageSoft\\Common'))!;
    beacon.registry[root]!.http_proxy = { type: 'String', data: `http://svc-beacon:${PASSWORD}@old-proxy:3128` };
    beacon.registry[root]!.https_proxy = { type: 'String', data: `https://CORP%5Csvc-beacon:${PASSWORD}@old-proxy:3128/` };
    const path = newBeacon(scenarioDir('secret-in-value'), beacon);
    const outputs: string[] = [];
    const parameters = { DesiredState: encodeDesiredState(desiredState()) };
    const plan = await runBeaconDocument({ document: 'verify', parameters, modelPath: path });
    const applied = await runBeaconDocument({ document: 'configure', parameters, modelPath: path });
    const undone = await runBeaconDocument({ document: 'rollback', parameters: { CaptureId: 'req-ssm-test' }, modelPath: path });
    for (const run of [plan, applied, undone]) outputs.push(run.stdout, run.stderr);
    expect(outputs.join('\n')).toMatch(/"id":"registry:Common\\\\http_proxy","before":"REG_SZ http:\/\/\*\*\*@old-proxy:3128"/);
    for (const text of outputs) {
      for (const form of forms(PASSWORD)) expect(text.includes(form), `found the password in: ${text.slice(0, 300)}`).toBe(false);
    }
  });
});
