/** Types of js-md4 (the package ships none); the stub's NTLM verifier needs MD4, which Node's OpenSSL 3 no longer offers. */
declare module 'js-md4' {
  interface Md4 {
    (message: string | ArrayBuffer | Uint8Array): string;
    arrayBuffer(message: string | ArrayBuffer | Uint8Array): ArrayBuffer;
  }
  const md4: Md4;
  export default md4;
}
