/** Types of @ewsjs/ntlm-client (the package ships none): the three NTLM messages of the handshake. */
declare module '@ewsjs/ntlm-client' {
  export interface Type2Message {
    flags: number;
    encoding: 'ascii' | 'ucs2';
    version: 1 | 2;
    challenge: Buffer;
    targetName: string;
    targetInfo?: { parsed: Record<string, string>; buffer: Buffer };
  }
  /** `NTLM <base64>` for the Authorization header. */
  export function createType1Message(workstation?: string, target?: string): string;
  /** Accepts the base64 message or the whole `NTLM <base64>` header value. */
  export function decodeType2Message(header: string): Type2Message;
  export function createType3Message(type2: Type2Message, username: string, password: string, workstation?: string, target?: string): string;
  /** The package is CommonJS whose exports Node's ESM loader cannot detect by name: import the default. */
  const ntlm: { createType1Message: typeof createType1Message; decodeType2Message: typeof decodeType2Message; createType3Message: typeof createType3Message };
  export default ntlm;
}
