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
  io.stderr(`beacon-proxy: unknown command "${command}"\n\n${HELP.main}`);
  return EXIT.failure;
}
