import { readFile } from 'node:fs/promises';
import { documentParameters, renderDesiredState } from '../lambdas/core/desired-state.js';
import { isRequestError } from '../lambdas/core/errors.js';
import { PIN_ID_PATTERN } from '../lambdas/core/fnms/pin-ledger.js';
import { PATTERNS, REQUEST_ID_RULE, parseRequestJson } from '../lambdas/core/request.js';
import type { RemoteDeps } from './remote.js';

/** Exit codes of the CLI: 0 done, 1 unreadable input or internal failure, 2 the request was refused. */
export const EXIT = { ok: 0, failure: 1, refused: 2 } as const;

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
  /** stdout is a terminal: `status --watch` redraws in place. */
  isTTY?: boolean;
}

const defaultIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTTY: process.stdout.isTTY === true,
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

const HELP: Record<string, string> = {
  main: `beacon-proxy: configure FlexNet inventory beacons to reach FNMS through a proxy.

Usage:
  beacon-proxy run [options]                  run the whole pipeline locally (what npm start does)
  beacon-proxy serve [options]                serve the local twin's HTTPS API and ChatOps webhook
  beacon-proxy render <request.json | ->     print the desired state and the SSM document parameters
  beacon-proxy validate <request.json | ->   check a request against every rule, change nothing

Against a deployed stack (your AWS credentials, the stack's outputs):
  beacon-proxy submit <request.json | -> --stack NAME [--watch]   send a request to the stack's API
  beacon-proxy plan <request.json | -> --stack NAME               the desired state the stack would apply
  beacon-proxy status <requestId> --stack NAME [--watch]          each beacon's state, until all are final
  beacon-proxy rerun <requestId> --stack NAME [--watch]           run a recorded request again (a new request, linked)
  beacon-proxy redrive --stack NAME                               move dead-lettered requests back to the intake
  beacon-proxy beacon <instanceId> --stack NAME [--diff]          the beacon's history across requests
  beacon-proxy rollback <instanceId> --stack NAME [--watch]       restore the beacon's last capture
  beacon-proxy retry <instanceId> --stack NAME [--watch]          run the beacon's last request again
  beacon-proxy cancel <requestId> --stack NAME [--rollback]       stop a rollout: nothing new starts (--rollback: undo running beacons)
  beacon-proxy go <requestId> --stack NAME                        start the waves after a canary that waits for a go
  beacon-proxy confirm-pin <pinId> --stack NAME                   say FNMS "Beacon version approved for use" is set

  beacon-proxy <command> --help              help for one command

Exit codes: 0 done, 1 unreadable input or internal failure, 2 the request was refused
(stdout then holds {"error": {"code", "message", "field"}}).
`,
  render: `beacon-proxy render <request.json | ->

Validates the request and prints one JSON object on stdout:
  {"requestId", "desiredState", "documentParameters"}
documentParameters is what SendCommand passes to the configure document (the desired state as base64).
Nothing is sent anywhere. Use - to read the request from stdin.

Example:
  npx beacon-proxy render examples/https-one-proxy.json
  echo '{"target":{"instanceIds":["i-0123456789abcdef0"]},"protocol":"https","proxy":"proxy.corp.example:8080",
         "account":{"kind":"gmsa","name":"CORP\\\\gmsa-beacon$"}}' | npx beacon-proxy render -
`,
  run: `beacon-proxy run [--request FILE]... [--fleet DIR] [--dry-run] [--diff] [--out DIR] [--concurrency N]

Runs the pipeline that deploys to AWS on this machine: the request enters a local queue and the real
intake handler; each beacon's workflow is the synthesized Step Functions state machine run locally; the
SSM documents' real PowerShell runs under pwsh against simulated beacons; FNMS is a local stub server.
Prints a table per beacon and writes report.json and report.html (counts, the FNMS pin outcome, and each
beacon's changes as a before/after table).

  --request FILE   a request to send (repeatable); default examples/fleet-by-tag.json
  --fleet DIR      a fleet directory (fleet.json + one model file per beacon); default: the built-in fleet
                   of five beacons (fresh, already configured, offline, service fails, old 32-bit).
                   It is copied first: your files are never changed.
  --dry-run        plan only: every request is sent with dryRun; each beacon runs the read-only verify
                   document, and the plan lists per beacon every value a real run would change as
                   "id: current -> wanted" (or "no change"), like terraform plan
  --diff           after the table, every beacon's changes as "id: before -> after" (what a rollback
                   restored too); a dry run always prints them
  --out DIR        where report.json, report.html and the run's files go (default beacon-proxy-run/)
  --concurrency N  beacons configured at once (default 2)

Example:
  npx beacon-proxy run --request examples/fleet-by-tag.json --dry-run
`,
  serve: `beacon-proxy serve [--port N] [--fleet DIR]

Starts the local twin (built-in fleet unless --fleet) and serves, on 127.0.0.1 only, the same handlers
the stack deploys behind API Gateway and the ChatOps function URL:
  POST /requests       a request (202, requestId and status URL; a resend 200, other content under a
                       known requestId 409 REQUEST_CONFLICT)
  GET  /requests/{id}  the request and each beacon's status with its checks
  POST /requests/{id}/rerun  run a recorded request again: a new request linked to it (202)
  POST /plans          dry run: the desired state, nothing changes
  GET  /beacons/{instanceId}           the beacon's history across requests (?limit, ?cursor)
  POST /beacons/{instanceId}/rollback  restore its last capture under its lock
  POST /beacons/{instanceId}/retry     run its last request again, linked to it
  POST /slack          a Slack slash command (signing secret v0; printed at start)
  POST /teams          a Teams outgoing webhook (HMAC; token printed at start)
Profiles for chat commands come from examples/profiles/. Stop with Ctrl-C.

Example:
  npx beacon-proxy serve --port 8787
  curl -s -X POST --data @examples/https-one-proxy.json http://127.0.0.1:8787/plans
`,
  submit: `beacon-proxy submit <request.json | -> --stack NAME [--region R] [--profile P] [--dry-run] [--watch]

Validates the request here (exit 2 with the error JSON if a rule refuses it), then sends it to the
deployed stack's API (POST requests), signed with your AWS credentials (Signature Version 4; the SDK's
default chain: environment, AWS_PROFILE / --profile, SSO, instance role). The API address comes from
the stack's ApiUrl output. Prints {"requestId", "statusUrl"}.

  --stack NAME   the CloudFormation stack (e.g. BeaconProxy)
  --region R     the stack's region (default: AWS_REGION or your profile's region)
  --profile P    a named AWS profile
  --dry-run      send it as a plan: each beacon runs the read-only verify document, nothing changes
  --watch        then show each beacon's state until all are final (as status --watch)
  --diff         with --watch: each beacon's changes as "id: before -> after" once final

Your role must be named in the stack's apiSubmitPrincipals (and apiReadPrincipals for --watch).

Example:
  npx beacon-proxy submit examples/https-one-proxy.json --stack BeaconProxy --watch
`,
  plan: `beacon-proxy plan <request.json | -> --stack NAME [--region R] [--profile P]

Sends the request to the deployed stack's POST plans (signed with your AWS credentials) and prints the
desired state and document parameters the stack would apply. Nothing changes anywhere. For a plan that
compares each beacon with that state, use submit --dry-run.

Example:
  npx beacon-proxy plan examples/split-endpoints.json --stack BeaconProxy
`,
  status: `beacon-proxy status <requestId> --stack NAME [--region R] [--profile P] [--watch] [--diff] [--interval S] [--timeout M] [--json]

Shows the request and each beacon's state with a progress bar (queued, locked, sent, then final: ok,
rolled-back, failed, ...), read from the deployed stack's GET requests/{id} with your AWS credentials.

  --watch        keep polling until every beacon is final (redrawn in place on a terminal)
  --diff         each final beacon's changes as "id: before -> after" (what a rollback restored too);
                 a dry run (plan) always shows them: "id: current -> wanted", or "no change"
  --interval S   seconds between polls (default 5)
  --timeout M    give up watching after M minutes (default 120; exit 1)
  --json         print the API's JSON instead of the table

Exit codes: 0 shown (watching: every beacon final), 1 failure or timeout, 2 no such request or the
request was refused (the error JSON on stdout). Your role must be named in apiReadPrincipals.

Example:
  npx beacon-proxy status chg-1234 --stack BeaconProxy --watch
`,
  rerun: `beacon-proxy rerun <requestId> --stack NAME [--region R] [--profile P] [--watch] [--interval S] [--timeout M]

Runs a recorded request again through the deployed stack's POST requests/{id}/rerun: a new request with
the same content and a new id (<requestId>.rerun-...), linked both ways (its rerunOf names the old request;
the old one lists it under reruns). Use it when the same change must be applied again (a beacon was offline,
someone changed it by hand): resending the request itself returns the recorded one, and changes nothing.
Prints {"requestId", "rerunOf", "statusUrl"}.

  --watch        then show each beacon's state until all are final (as status --watch)

Exit codes: 0 queued (watching: every beacon final), 1 failure, 2 no such request or it was refused
(the error JSON on stdout). Your role must be named in apiSubmitPrincipals (and apiReadPrincipals for --watch).

Example:
  npx beacon-proxy rerun chg-1234 --stack BeaconProxy --watch
`,
  cancel: `beacon-proxy cancel <requestId> --stack NAME [--rollback] [--region R] [--profile P]

Cancels a running request through the stack's POST requests/{id}/cancel (signed with your AWS credentials;
the API's submit permission). Nothing new starts; beacons running their document finish it; with
--rollback they are then rolled back; beacons never started end "cancelled". Locks are released, every
beacon's status becomes final, and the requester gets the summary. Prints who cancelled and when.
Refused (exit 2) with ALREADY_CANCELLED, ALREADY_ENDED or BEACON_WORK_DONE (only the FNMS pin is open).

Example:
  npx beacon-proxy cancel chg-1234 --stack BeaconProxy --rollback
`,
  go: `beacon-proxy go <requestId> --stack NAME [--region R] [--profile P]

Gives the go a rollout with pauseAfterCanary waits for once its canary finished well (POST
requests/{id}/go). Without a go in time (goWaitSeconds) the request halts and the other beacons are not
started. Refused (exit 2) with NOT_AWAITING_GO when the rollout does not wait for one.
`,
  'confirm-pin': `beacon-proxy confirm-pin <pinId> --stack NAME [--region R] [--profile P]

pinMode operator: confirms that "Beacon version approved for use" is set in FNMS to the value the pin
message named (POST pins/{id}/confirm). Your IAM principal and the time are recorded; every request waiting
on that value goes on. Refused (exit 2) with PIN_SUPERSEDED (a newer value replaced it: set and confirm
that one) or PIN_NOT_PENDING.

Example:
  npx beacon-proxy confirm-pin pin-chg-1234 --stack BeaconProxy
`,
  redrive: `beacon-proxy redrive --stack NAME [--region R] [--profile P] [--max-per-second N]

Moves every message of the stack's dead-letter queue back to its intake queue (an SQS message move task,
queue ARNs from the stack outputs), prints progress on stderr and, when the task ends, what moved as
JSON on stdout: {"status", "moved", "toMove", "from", "to"}. Fix the cause first (see the dashboard and
the intake's log group): a request that failed for a lasting reason dead-letters again.

  --max-per-second N   throttle the move (default: SQS's own pace, up to 500 messages/s)

Exit codes: 0 moved (or nothing to move), 1 the task failed or could not start.

Example:
  npx beacon-proxy redrive --stack BeaconProxy
`,
  beacon: `beacon-proxy beacon <instanceId> --stack NAME [--region R] [--profile P] [--diff] [--limit N] [--cursor C] [--all] [--json]

The beacon's history across requests, newest first (the stack's GET beacons/{instanceId}): when, which
request, configure / plan / rollback, the outcome, from where and by whom, and what it links to (a retry
of, a rollback of).

  --diff       each run's changes as "id: before -> after" (what a rollback put back too)
  --limit N    runs per page, 1-100 (default 20)
  --cursor C   the next (older) page, as the previous page printed it
  --all        every page
  --json       the API's JSON

Your role must be named in apiReadPrincipals.

Example:
  npx beacon-proxy beacon i-0123456789abcdef0 --stack BeaconProxy --diff
`,
  rollback: `beacon-proxy rollback <instanceId> --stack NAME [--region R] [--profile P] [--watch] [--diff]

Restores the beacon's last capture (taken by the newest configure whose changes are still in place) with
the Rollback document, under the beacon's lock, as a new request linked to the one it undoes. The drift
check then leaves the beacon as it is until its next configure. Prints {"requestId", "restores",
"statusUrl"}; refused with NO_CAPTURE (beacon-proxy never changed it), ALREADY_ROLLED_BACK or
BEACON_BUSY (a request still runs on it), changing nothing.

  --watch      then show the rollback's state until it is final (as status --watch)

Your role must be named in apiSubmitPrincipals (and apiReadPrincipals for --watch).

Example:
  npx beacon-proxy rollback i-0123456789abcdef0 --stack BeaconProxy --watch --diff
`,
  retry: `beacon-proxy retry <instanceId> --stack NAME [--region R] [--profile P] [--watch] [--diff]

Runs the beacon's last request (configure or plan) again, for this beacon only, as a new request linked
to the old one (both records show the link). The request is checked against today's rules first.
Refused with NOTHING_TO_RETRY or BEACON_BUSY.

Example:
  npx beacon-proxy retry i-0123456789abcdef0 --stack BeaconProxy --watch
`,
  validate: `beacon-proxy validate <request.json | ->

Checks the request against every rule (anonymous proxy only, no PAC, port required, account rules,
CRL acknowledgement, target ids) and prints {"ok": true} or {"error": {"code", "message", "field"}}.

Example:
  npx beacon-proxy validate examples/crl-disabled.json
`,
};

async function readInput(source: string, io: Io): Promise<string> {
  return source === '-' ? io.readStdin() : readFile(source, 'utf8');
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

async function renderOrValidate(command: 'render' | 'validate', args: string[], io: Io): Promise<number> {
  const source = args.find((arg) => !arg.startsWith('--') || arg === '-');
  if (source === undefined || args.length !== 1) {
    io.stderr(`beacon-proxy ${command}: give one request file, or - for stdin\n\n${HELP[command]}`);
    return EXIT.failure;
  }
  let text: string;
  try {
    text = await readInput(source, io);
  } catch (error) {
    io.stderr(`beacon-proxy ${command}: cannot read ${source}: ${(error as Error).message}\n`);
    return EXIT.failure;
  }
  try {
    const request = parseRequestJson(text);
    if (command === 'validate') {
      io.stdout(json({ ok: true, requestId: request.requestId }));
      return EXIT.ok;
    }
    const desiredState = renderDesiredState(request);
    io.stdout(json({ requestId: request.requestId, desiredState, documentParameters: documentParameters(desiredState) }));
    return EXIT.ok;
  } catch (error) {
    if (isRequestError(error)) {
      io.stdout(json(error.toJSON()));
      return EXIT.refused;
    }
    io.stderr(`beacon-proxy ${command}: internal failure: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.failure;
  }
}

interface RunArgs {
  requestFiles: string[];
  fleetDir?: string;
  dryRun: boolean;
  diff: boolean;
  out: string;
  concurrency: number;
}

function parseRunArgs(args: string[]): RunArgs | string {
  const parsed: RunArgs = { requestFiles: [], dryRun: false, diff: false, out: 'beacon-proxy-run', concurrency: 2 };
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    const value = (): string | undefined => args[++i];
    if (arg === '--dry-run') parsed.dryRun = true;
    else if (arg === '--diff') parsed.diff = true;
    else if (arg === '--request') {
      const file = value();
      if (!file) return '--request needs a file';
      parsed.requestFiles.push(file);
    } else if (arg === '--fleet') {
      const dir = value();
      if (!dir) return '--fleet needs a directory';
      parsed.fleetDir = dir;
    } else if (arg === '--out') {
      const dir = value();
      if (!dir) return '--out needs a directory';
      parsed.out = dir;
    } else if (arg === '--concurrency') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1 || n > 64) return '--concurrency takes a whole number from 1 to 64';
      parsed.concurrency = n;
    } else return `unknown option ${arg}`;
  }
  return parsed;
}

async function runCommand(args: string[], io: Io): Promise<number> {
  const parsed = parseRunArgs(args);
  if (typeof parsed === 'string') {
    io.stderr(`beacon-proxy run: ${parsed}\n\n${HELP.run}`);
    return EXIT.failure;
  }
  const [{ runLocal }, { renderChanges, renderTable, writeReports }] = await Promise.all([import('./run.js'), import('./report.js')]);
  try {
    io.stderr('beacon-proxy: starting the local twin (FNMS stub, synthesized workflow, simulated fleet)...\n');
    const report = await runLocal({
      requestFiles: parsed.requestFiles,
      fleetDir: parsed.fleetDir,
      dryRun: parsed.dryRun,
      workDir: parsed.out,
      concurrency: parsed.concurrency,
    });
    const files = await writeReports(parsed.out, report);
    const changes = parsed.diff || report.dryRun ? `\n${renderChanges(report)}` : '';
    io.stdout(`\n${renderTable(report)}${changes}\nReport: ${files.json}\n        ${files.html}\n`);
    return EXIT.ok;
  } catch (error) {
    io.stderr(`beacon-proxy run: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.failure;
  }
}

async function serveCommand(args: string[], io: Io): Promise<number> {
  let port = 8787;
  let fleetDir: string | undefined;
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === '--port' && /^\d{1,5}$/.test(args[i + 1] ?? '')) port = Number(args[++i]);
    else if (args[i] === '--fleet' && args[i + 1]) fleetDir = args[++i];
    else {
      io.stderr(`beacon-proxy serve: unknown option ${args[i]}\n\n${HELP.serve}`);
      return EXIT.failure;
    }
  }
  const { serveLocal } = await import('./serve.js');
  const served = await serveLocal({ port, fleetDir, workDir: 'beacon-proxy-serve' });
  io.stdout(served.banner);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await served.stop();
  return EXIT.ok;
}

interface RemoteArgs {
  positional: string[];
  stack?: string;
  region?: string;
  profile?: string;
  watch: boolean;
  dryRun: boolean;
  diff: boolean;
  json: boolean;
  intervalSeconds: number;
  timeoutMinutes: number;
  maxPerSecond?: number;
  limit?: number;
  cursor?: string;
  all: boolean;
  rollback?: boolean;
}

const REMOTE_OPTIONS: Record<string, string[]> = {
  submit: ['--stack', '--region', '--profile', '--dry-run', '--watch', '--diff', '--interval', '--timeout'],
  plan: ['--stack', '--region', '--profile'],
  status: ['--stack', '--region', '--profile', '--watch', '--diff', '--interval', '--timeout', '--json'],
  rerun: ['--stack', '--region', '--profile', '--watch', '--diff', '--interval', '--timeout'],
  redrive: ['--stack', '--region', '--profile', '--max-per-second'],
  beacon: ['--stack', '--region', '--profile', '--diff', '--limit', '--cursor', '--all', '--json'],
  rollback: ['--stack', '--region', '--profile', '--watch', '--diff', '--interval', '--timeout', '--json'],
  retry: ['--stack', '--region', '--profile', '--watch', '--diff', '--interval', '--timeout', '--json'],
  cancel: ['--stack', '--region', '--profile', '--rollback'],
  go: ['--stack', '--region', '--profile'],
  'confirm-pin': ['--stack', '--region', '--profile'],
};

type RemoteCommand = 'submit' | 'plan' | 'status' | 'rerun' | 'redrive' | 'beacon' | 'rollback' | 'retry' | 'cancel' | 'go' | 'confirm-pin';
const REMOTE_COMMANDS: readonly string[] = Object.keys(REMOTE_OPTIONS);
const BEACON_COMMANDS: readonly string[] = ['beacon', 'rollback', 'retry'];

function parseRemoteArgs(command: string, args: string[]): RemoteArgs | string {
  const parsed: RemoteArgs = { positional: [], watch: false, dryRun: false, diff: false, json: false, intervalSeconds: 5, timeoutMinutes: 120, all: false };
  const allowed = REMOTE_OPTIONS[command]!;
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      parsed.positional.push(arg);
      continue;
    }
    if (!allowed.includes(arg)) return `unknown option ${arg}`;
    const value = (): string | undefined => {
      const next = args[i + 1];
      if (next === undefined || (next.startsWith('--') && next !== '-')) return undefined;
      i += 1;
      return next;
    };
    const number = (min: number, max: number): number | undefined => {
      const n = Number(value());
      return Number.isFinite(n) && n >= min && n <= max ? n : undefined;
    };
    switch (arg) {
      case '--stack': {
        const name = value();
        if (!name || !/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(name)) return '--stack needs a CloudFormation stack name';
        parsed.stack = name;
        break;
      }
      case '--region': {
        const region = value();
        if (!region || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) return '--region needs an AWS region such as eu-west-1';
        parsed.region = region;
        break;
      }
      case '--profile': {
        const profile = value();
        if (!profile) return '--profile needs a profile name';
        parsed.profile = profile;
        break;
      }
      case '--watch':
        parsed.watch = true;
        break;
      case '--dry-run':
        parsed.dryRun = true;
        break;
      case '--diff':
        parsed.diff = true;
        break;
      case '--rollback':
        parsed.rollback = true;
        break;
      case '--json':
        parsed.json = true;
        break;
      case '--all':
        parsed.all = true;
        break;
      case '--limit': {
        const n = number(1, 100);
        if (n === undefined || !Number.isInteger(n)) return '--limit takes a whole number from 1 to 100';
        parsed.limit = n;
        break;
      }
      case '--cursor': {
        const cursor = value();
        if (!cursor) return '--cursor needs the cursor the previous page printed';
        parsed.cursor = cursor;
        break;
      }
      case '--interval': {
        const n = number(1, 300);
        if (n === undefined) return '--interval takes seconds from 1 to 300';
        parsed.intervalSeconds = n;
        break;
      }
      case '--timeout': {
        const n = number(1, 24 * 60);
        if (n === undefined) return '--timeout takes minutes from 1 to 1440';
        parsed.timeoutMinutes = n;
        break;
      }
      case '--max-per-second': {
        const n = number(1, 500);
        if (n === undefined || !Number.isInteger(n)) return '--max-per-second takes a whole number from 1 to 500';
        parsed.maxPerSecond = n;
        break;
      }
    }
  }
  if (!parsed.stack) return '--stack NAME is required (the CloudFormation stack of beacon-proxy, e.g. BeaconProxy)';
  const wanted = command === 'redrive' ? 0 : 1;
  if (parsed.positional.length !== wanted) {
    if (command === 'redrive') return `unexpected argument ${parsed.positional[0]}`;
    if (BEACON_COMMANDS.includes(command)) return 'give one instance id';
    if (command === 'confirm-pin') return 'give one pin id (pin-<requestId>, as the pin message names it)';
    return command === 'status' || command === 'rerun' || command === 'cancel' || command === 'go' ? 'give one request id' : 'give one request file, or - for stdin';
  }
  return parsed;
}

async function remoteCommand(command: RemoteCommand, args: string[], io: Io, deps?: Partial<RemoteDeps>): Promise<number> {
  const parsed = parseRemoteArgs(command, args);
  if (typeof parsed === 'string') {
    io.stderr(`beacon-proxy ${command}: ${parsed}\n\n${HELP[command]}`);
    return EXIT.failure;
  }
  const remote = await import('./remote.js');
  const allDeps: RemoteDeps = { ...remote.defaultRemoteDeps, ...deps };
  const target = { ...(parsed.region ? { region: parsed.region } : {}), ...(parsed.profile ? { profile: parsed.profile } : {}) };
  const stack = parsed.stack!;
  try {
    if (command === 'redrive') return await remote.redriveDeadLetters(allDeps, stack, target, { ...(parsed.maxPerSecond ? { maxPerSecond: parsed.maxPerSecond } : {}), pollSeconds: 2 }, io);
    const watch = { watch: parsed.watch, intervalSeconds: parsed.intervalSeconds, timeoutMinutes: parsed.timeoutMinutes, json: parsed.json, diff: parsed.diff };
    if (command === 'cancel' || command === 'go' || command === 'confirm-pin') {
      const id = parsed.positional[0]!;
      const valid = command === 'confirm-pin' ? PIN_ID_PATTERN.test(id) : PATTERNS.requestId.test(id);
      if (!valid) {
        io.stdout(json({ error: { code: 'INVALID_REQUEST', message: command === 'confirm-pin' ? 'a pin id is pin-<requestId>, as the pin message names it' : `the request id is ${REQUEST_ID_RULE}`, field: 'id' } }));
        return EXIT.refused;
      }
      const call = await remote.connectApi(allDeps, stack, target);
      const action = command === 'confirm-pin' ? { kind: command, pinId: id } : command === 'cancel' ? { kind: command, requestId: id, rollback: parsed.rollback ?? false } : { kind: command, requestId: id };
      io.stdout(json(await remote.operatorAction(call, action)));
      return EXIT.ok;
    }
    if (command === 'status' || command === 'rerun') {
      const requestId = parsed.positional[0]!;
      if (!PATTERNS.requestId.test(requestId)) {
        io.stdout(json({ error: { code: 'INVALID_REQUEST', message: `the request id is ${REQUEST_ID_RULE}`, field: 'id' } }));
        return EXIT.refused;
      }
      const call = await remote.connectApi(allDeps, stack, target);
      if (command === 'status') return await remote.showStatus(call, requestId, watch, io, allDeps);
      const answer = await remote.rerunRequest(call, requestId);
      io.stdout(json(answer));
      return parsed.watch ? await remote.showStatus(call, answer.requestId, { ...watch, watch: true }, io, allDeps) : EXIT.ok;
    }
    if (command === 'beacon' || command === 'rollback' || command === 'retry') {
      const instanceId = parsed.positional[0]!;
      if (!PATTERNS.instanceId.test(instanceId)) {
        io.stdout(json({ error: { code: 'INVALID_INSTANCE_ID', message: 'the instance id is an SSM managed instance id: i- with 8 or 17 hex digits, or mi- with 17', field: 'instanceId' } }));
        return EXIT.refused;
      }
      const beacons = await import('./remote-beacons.js');
      const call = await remote.connectApi(allDeps, stack, target);
      if (command === 'beacon') {
        return await beacons.showBeaconHistory(call, instanceId, { ...(parsed.limit ? { limit: parsed.limit } : {}), cursor: parsed.cursor ?? null, all: parsed.all, json: parsed.json, diff: parsed.diff }, io);
      }
      return await beacons.runBeaconCommand(call, instanceId, command, watch, io, allDeps);
    }
    const source = parsed.positional[0]!;
    let text: string;
    try {
      text = await readInput(source, io);
    } catch (error) {
      io.stderr(`beacon-proxy ${command}: cannot read ${source}: ${(error as Error).message}\n`);
      return EXIT.failure;
    }
    // The same rules as the stack, checked before anything is sent: a refusal costs no AWS call.
    let request;
    try {
      request = parseRequestJson(text);
    } catch (error) {
      if (isRequestError(error)) {
        io.stdout(json(error.toJSON()));
        return EXIT.refused;
      }
      throw error;
    }
    const body = command === 'submit' && parsed.dryRun ? JSON.stringify({ ...(JSON.parse(text) as Record<string, unknown>), dryRun: true }) : text;
    const call = await remote.connectApi(allDeps, stack, target);
    const answer = await remote.submitRequest(call, body, command === 'submit' ? 'requests' : 'plans');
    io.stdout(json(answer));
    if (command === 'submit' && parsed.watch) {
      const requestId = (answer as { requestId?: string }).requestId ?? request.requestId;
      return await remote.showStatus(call, requestId, { ...watch, watch: true }, io, allDeps);
    }
    return EXIT.ok;
  } catch (error) {
    if (error instanceof remote.RemoteError) {
      if (error.body) io.stdout(json(error.body));
      else io.stderr(`beacon-proxy ${command}: ${error.message}\n`);
      return error.exitCode;
    }
    io.stderr(`beacon-proxy ${command}: internal failure: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.failure;
  }
}

export async function main(argv: string[], io: Io = defaultIo, remoteDeps?: Partial<RemoteDeps>): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout(HELP.main!);
    return command === undefined ? EXIT.failure : EXIT.ok;
  }
  if (command === 'render' || command === 'validate') {
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout(HELP[command]!);
      return EXIT.ok;
    }
    return renderOrValidate(command, rest, io);
  }
  if (command === 'serve') {
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout(HELP.serve!);
      return EXIT.ok;
    }
    return serveCommand(rest, io);
  }
  if (REMOTE_COMMANDS.includes(command)) {
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout(HELP[command] ?? HELP.main!);
      return EXIT.ok;
    }
    return remoteCommand(command as RemoteCommand, rest, io, remoteDeps);
  }
  if (command === 'run') {
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout(HELP.run!);
      return EXIT.ok;
    }
    return runCommand(rest, io);
  }
  io.stderr(`beacon-proxy: unknown command "${command}"\n\n${HELP.main}`);
  return EXIT.failure;
}
