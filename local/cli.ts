import { readFile } from 'node:fs/promises';
import { documentParameters, renderDesiredState } from '../lambdas/core/desired-state.js';
import { isRequestError } from '../lambdas/core/errors.js';
import { parseRequestJson } from '../lambdas/core/request.js';

/** Exit codes of the CLI: 0 done, 1 unreadable input or internal failure, 2 the request was refused. */
export const EXIT = { ok: 0, failure: 1, refused: 2 } as const;

interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
}

const defaultIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
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
  run: `beacon-proxy run [--request FILE]... [--fleet DIR] [--dry-run] [--out DIR] [--concurrency N]

Runs the pipeline that deploys to AWS on this machine: the request enters a local queue and the real
intake handler; each beacon's workflow is the synthesized Step Functions state machine run locally; the
SSM documents' real PowerShell runs under pwsh against simulated beacons; FNMS is a local stub server.
Prints a table per beacon and writes report.json and report.html.

  --request FILE   a request to send (repeatable); default examples/fleet-by-tag.json
  --fleet DIR      a fleet directory (fleet.json + one model file per beacon); default: the built-in fleet
                   of five beacons (fresh, already configured, offline, service fails, old 32-bit).
                   It is copied first: your files are never changed.
  --dry-run        plan only: every request is sent with dryRun; each beacon runs the read-only verify
                   document and the report lists what a real run would change
  --out DIR        where report.json, report.html and the run's files go (default beacon-proxy-run/)
  --concurrency N  beacons configured at once (default 2)

Example:
  npx beacon-proxy run --request examples/fleet-by-tag.json --dry-run
`,
  serve: `beacon-proxy serve [--port N] [--fleet DIR]

Starts the local twin (built-in fleet unless --fleet) and serves, on 127.0.0.1 only, the same handlers
the stack deploys behind API Gateway and the ChatOps function URL:
  POST /requests       a request (202, requestId and status URL)
  GET  /requests/{id}  the request and each beacon's status with its checks
  POST /plans          dry run: the desired state, nothing changes
  POST /slack          a Slack slash command (signing secret v0; printed at start)
  POST /teams          a Teams outgoing webhook (HMAC; token printed at start)
Profiles for chat commands come from examples/profiles/. Stop with Ctrl-C.

Example:
  npx beacon-proxy serve --port 8787
  curl -s -X POST --data @examples/https-one-proxy.json http://127.0.0.1:8787/plans
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
  out: string;
  concurrency: number;
}

function parseRunArgs(args: string[]): RunArgs | string {
  const parsed: RunArgs = { requestFiles: [], dryRun: false, out: 'beacon-proxy-run', concurrency: 2 };
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    const value = (): string | undefined => args[++i];
    if (arg === '--dry-run') parsed.dryRun = true;
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
  const [{ runLocal }, { renderTable, writeReports }] = await Promise.all([import('./run.js'), import('./report.js')]);
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
    io.stdout(`\n${renderTable(report)}\nReport: ${files.json}\n        ${files.html}\n`);
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

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
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
