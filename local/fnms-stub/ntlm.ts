/**
 * The server side of NTLM (MS-NLMP) for the stub's on-premises web service: the challenge (type 2) and a
 * real check of the client's NTLMv2 answer (type 3) against the account's password, as IIS with Windows
 * authentication does. NTLMv1 answers are refused (LmCompatibilityLevel 5). Written independently of the
 * client library, so a client that computes the answer wrongly is refused here.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import md4 from 'js-md4';

const SIGNATURE = Buffer.from('NTLMSSP\0', 'ascii');
const FLAGS = {
  unicode: 0x00000001,
  requestTarget: 0x00000004,
  ntlm: 0x00000200,
  alwaysSign: 0x00008000,
  targetTypeDomain: 0x00010000,
  extendedSessionSecurity: 0x00080000,
  targetInfo: 0x00800000,
  bits128: 0x20000000,
  bits56: 0x80000000,
};

export interface WindowsAccount {
  domain: string;
  user: string;
  password: string;
}

/** Decodes `NTLM <base64>`; null when the header is not NTLM or not an NTLMSSP message of `type`. */
export function decodeNtlmMessage(header: string | undefined, type: 1 | 3): Buffer | null {
  const match = /^NTLM\s+([A-Za-z0-9+/=]+)\s*$/.exec(header ?? '');
  if (!match) return null;
  const message = Buffer.from(match[1]!, 'base64');
  if (message.length < 12 || !message.subarray(0, 8).equals(SIGNATURE) || message.readUInt32LE(8) !== type) return null;
  return message;
}

function avPair(id: number, value: string): Buffer {
  const data = Buffer.from(value, 'utf16le');
  const head = Buffer.alloc(4);
  head.writeUInt16LE(id, 0);
  head.writeUInt16LE(data.length, 2);
  return Buffer.concat([head, data]);
}

/** A type 2 message with a fresh server challenge; returns the header value and the challenge to remember for the connection. */
export function createChallenge(domain: string, server: string): { header: string; challenge: Buffer } {
  const challenge = randomBytes(8);
  const targetName = Buffer.from(domain.toUpperCase(), 'utf16le');
  const targetInfo = Buffer.concat([avPair(2, domain.toUpperCase()), avPair(1, server.toUpperCase()), avPair(4, `${domain.toLowerCase()}.example`), avPair(3, `${server.toLowerCase()}.${domain.toLowerCase()}.example`), Buffer.alloc(4)]);
  const head = Buffer.alloc(48);
  SIGNATURE.copy(head, 0);
  head.writeUInt32LE(2, 8);
  head.writeUInt16LE(targetName.length, 12);
  head.writeUInt16LE(targetName.length, 14);
  head.writeUInt32LE(48, 16);
  const flags =
    FLAGS.unicode | FLAGS.requestTarget | FLAGS.ntlm | FLAGS.alwaysSign | FLAGS.targetTypeDomain | FLAGS.extendedSessionSecurity | FLAGS.targetInfo | FLAGS.bits128 | FLAGS.bits56;
  head.writeUInt32LE(flags >>> 0, 20);
  challenge.copy(head, 24);
  head.writeUInt16LE(targetInfo.length, 40);
  head.writeUInt16LE(targetInfo.length, 42);
  head.writeUInt32LE(48 + targetName.length, 44);
  return { header: `NTLM ${Buffer.concat([head, targetName, targetInfo]).toString('base64')}`, challenge };
}

function field(message: Buffer, at: number): Buffer {
  const length = message.readUInt16LE(at);
  const offset = message.readUInt32LE(at + 4);
  if (offset + length > message.length) throw new Error('field out of bounds');
  return message.subarray(offset, offset + length);
}

export type NtlmVerdict = { ok: true; user: string; domain: string } | { ok: false; reason: string };

/** Checks a type 3 message against the challenge of its connection and the known accounts. */
export function verifyAuthenticate(message: Buffer, challenge: Buffer, accounts: readonly WindowsAccount[]): NtlmVerdict {
  let nt: Buffer;
  let domain: string;
  let user: string;
  try {
    if (message.length < 64) return { ok: false, reason: 'type 3 message too short' };
    const flags = message.readUInt32LE(60);
    const encoding = flags & FLAGS.unicode ? 'utf16le' : 'latin1';
    nt = field(message, 20);
    domain = field(message, 28).toString(encoding);
    user = field(message, 36).toString(encoding);
  } catch (error) {
    return { ok: false, reason: `malformed type 3 message (${(error as Error).message})` };
  }
  if (nt.length <= 24) return { ok: false, reason: 'NTLMv1 answers are refused' };
  // DOMAIN\user, or a UPN (user@dns.domain) with an empty domain field; the stub's DNS domain is <domain>.example.
  const upn = domain === '' && user.includes('@') ? { user: user.slice(0, user.indexOf('@')), dns: user.slice(user.indexOf('@') + 1).toLowerCase() } : null;
  const account = accounts.find((candidate) =>
    upn
      ? candidate.user.toLowerCase() === upn.user.toLowerCase() && `${candidate.domain.toLowerCase()}.example` === upn.dns
      : candidate.user.toLowerCase() === user.toLowerCase() && candidate.domain.toLowerCase() === domain.toLowerCase(),
  );
  if (!account) return { ok: false, reason: `unknown account ${domain}\\${user}` };
  const ntHash = Buffer.from(md4.arrayBuffer(Buffer.from(account.password, 'utf16le')));
  const ntowfv2 = createHmac('md5', ntHash).update(Buffer.from(user.toUpperCase() + domain, 'utf16le')).digest();
  const proof = nt.subarray(0, 16);
  const blob = nt.subarray(16);
  const expected = createHmac('md5', ntowfv2).update(Buffer.concat([challenge, blob])).digest();
  if (!timingSafeEqual(proof, expected)) return { ok: false, reason: 'wrong password' };
  return { ok: true, user, domain };
}
