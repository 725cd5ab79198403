import { beforeAll, describe, expect, test } from 'vitest';
import { decodeConnectionSettings, encodeConnectionSettings } from '../../local/beacon-model.js';
import { loadModuleScript, runPwshScript } from './helpers.js';

// Byte-exact vector: version 0x46, counter 5, flags 0x0b (auto-detect + proxy + direct), "127.0.0.1:80",
// "<local>", no auto-config URL, then a zeroed 32-byte tail.
const VECTOR_HEX =
  '46000000' + '05000000' + '0b000000' +
  '0c000000' + Buffer.from('127.0.0.1:80', 'ascii').toString('hex') +
  '07000000' + Buffer.from('<local>', 'ascii').toString('hex') +
  '00000000' +
  '00'.repeat(32);

// A blob as a dialog leaves it: flags 0x0d (PAC + auto-detect + direct), a PAC URL and a non-zero tail.
const PAC_HEX =
  '46000000' + 'ffffffff' + '0d000000' +
  '00000000' + '00000000' +
  '1a000000' + Buffer.from('http://wpad/wpad-proxy.pac', 'ascii').toString('hex') +
  '01000000' + '0a141e28' + 'deadbeef';

interface Outcome {
  encoded: string;
  decoded: Record<string, unknown>;
  pacDecoded: Record<string, unknown>;
  pacRoundTrip: string;
  next: Record<string, unknown>;
  nextFromNothing: Record<string, unknown>;
  invalid: string;
  sigv4Get: string;
  sigv4Post: string;
}

let outcome: Outcome;

beforeAll(async () => {
  const script = `${loadModuleScript()}
function Hex([byte[]]$b) { ([System.BitConverter]::ToString($b) -replace '-', '').ToLowerInvariant() }
function Bytes([string]$h) { $r = New-Object byte[] ($h.Length / 2); for ($i = 0; $i -lt $r.Length; $i++) { $r[$i] = [Convert]::ToByte($h.Substring($i * 2, 2), 16) }; return , $r }
$encoded = Hex (ConvertTo-BpConnectionBlob ([ordered]@{ version = 0x46; counter = 5; flags = 0x0b; proxyServer = '127.0.0.1:80'; bypass = '<local>'; autoConfigUrl = '' }))
$decoded = ConvertFrom-BpConnectionBlob (Bytes '${VECTOR_HEX}')
$pac = ConvertFrom-BpConnectionBlob (Bytes '${PAC_HEX}')
$pacRoundTrip = Hex (ConvertTo-BpConnectionBlob $pac)
$next = New-BpConnectionSettings $pac ([ordered]@{ proxyServer = 'p:8080'; bypass = '<local>' })
$nextFromNothing = New-BpConnectionSettings $null ([ordered]@{ proxyServer = 'p:8080'; bypass = '' })
$invalid = ''
try { [void](ConvertFrom-BpConnectionBlob (Bytes '4600000001000000')) } catch { $invalid = [string]$_.Exception.Data['BpCode'] }
$credentials = [ordered]@{ accessKey = 'AKIDEXAMPLE'; secretKey = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'; token = $null }
$when = [DateTime]::SpecifyKind([DateTime]'2015-08-30T12:36:00', [DateTimeKind]::Utc)
$get = (New-BpSigV4Headers 'GET' 'example.amazonaws.com' '/' '' 'service' 'us-east-1' '' $credentials $when).Authorization
$post = (New-BpSigV4Headers 'POST' 'example.amazonaws.com' '/' '' 'service' 'us-east-1' '' $credentials $when).Authorization
[Console]::Out.WriteLine((ConvertTo-Json -Compress -Depth 5 -InputObject ([ordered]@{
  encoded = $encoded; decoded = $decoded; pacDecoded = $pac; pacRoundTrip = $pacRoundTrip; next = $next; nextFromNothing = $nextFromNothing
  invalid = $invalid; sigv4Get = $get; sigv4Post = $post })))
`;
  const run = await runPwshScript(script);
  if (run.exitCode !== 0) throw new Error(run.stderr);
  outcome = JSON.parse(run.stdout) as Outcome;
});

describe('DefaultConnectionSettings codec (PowerShell, as shipped)', () => {
  test('encodes flags 0x0b with "127.0.0.1:80" and "<local>" to the exact bytes Windows writes', () => {
    expect(outcome.encoded).toBe(VECTOR_HEX);
  });

  test('decodes the same bytes back into version, counter, flags and the three strings', () => {
    expect(outcome.decoded).toMatchObject({ version: 0x46, counter: 5, flags: 0x0b, proxyServer: '127.0.0.1:80', bypass: '<local>', autoConfigUrl: '' });
  });

  test('keeps the tail after the strings byte for byte (decode then encode is the identity)', () => {
    expect(outcome.pacDecoded).toMatchObject({ flags: 0x0d, autoConfigUrl: 'http://wpad/wpad-proxy.pac', counter: 0xffffffff });
    expect(outcome.pacRoundTrip).toBe(PAC_HEX);
  });

  test('the next blob turns the proxy on, drops the PAC flag, keeps auto-detect and increments the counter (wrapping)', () => {
    expect(outcome.next).toMatchObject({ version: 0x46, counter: 0, flags: 0x0b, proxyServer: 'p:8080', bypass: '<local>', autoConfigUrl: '' });
  });

  test("a beacon without a blob gets version 0x46, counter 1, direct + proxy and Windows' default auto-detect on", () => {
    expect(outcome.nextFromNothing).toMatchObject({ version: 0x46, counter: 1, flags: 0x0b, autoConfigUrl: '' });
  });

  test('a truncated blob is refused with WININET_BLOB_INVALID instead of being misread', () => {
    expect(outcome.invalid).toBe('WININET_BLOB_INVALID');
  });

  test('the TypeScript twin used by the beacon model writes the same bytes', () => {
    const bytes = encodeConnectionSettings({ version: 0x46, counter: 5, flags: 0x0b, proxyServer: '127.0.0.1:80', bypass: '<local>', autoConfigUrl: '' });
    expect(bytes.toString('hex')).toBe(VECTOR_HEX);
    const pac = decodeConnectionSettings(Buffer.from(PAC_HEX, 'hex'));
    expect(encodeConnectionSettings(pac).toString('hex')).toBe(PAC_HEX);
  });
});

describe('SigV4 signing for the Secrets Manager / Parameter Store REST fallback', () => {
  test('reproduces the published AWS test-suite signatures (get-vanilla, post-vanilla)', () => {
    expect(outcome.sigv4Get).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
    expect(outcome.sigv4Post).toMatch(/Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b$/);
  });
});
