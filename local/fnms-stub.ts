/**
 * The local FNMS stub (local/fnms-stub/): Flexera's documented report APIs (OIDC token, Flexera One report
 * execute, on-premises GetCustomView behind NTLM) and our pin gateway contract, on one HTTP server.
 * Run `tsx local/fnms-stub.ts [port]` to serve a demo state from the command line.
 */
import { pathToFileURL } from 'node:url';
import { LATEST_VERSION } from '../lambdas/core/fnms/types.js';
import { STUB_CLIENT, STUB_REFRESH_TOKEN, STUB_WINDOWS_ACCOUNT, startFnmsStub } from './fnms-stub/index.js';

export * from './fnms-stub/index.js';

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const port = Number(process.argv[2] ?? 0);
  const lastContact = new Date().toISOString();
  const stub = await startFnmsStub({
    port,
    bearerTokens: ['stub-bearer-token-0123456789'],
    state: {
      approvedVersion: LATEST_VERSION,
      availableVersions: ['13.1.0', '13.2.0', '13.3.0'],
      beacons: [
        { name: 'BEACON01', computerName: 'BEACON01', version: '13.2.0', status: 'Active', lastContact },
        { name: 'BEACON02', computerName: 'BEACON02', version: '13.2.0', status: 'Active', lastContact },
      ],
    },
  });
  console.log(
    JSON.stringify(
      {
        url: stub.url,
        tokenUrl: stub.tokenUrl,
        paths: stub.paths,
        refreshToken: STUB_REFRESH_TOKEN,
        client: STUB_CLIENT,
        windowsAccount: STUB_WINDOWS_ACCOUNT,
        flexeraOne: stub.flexeraOneConfig(),
        onPremises: stub.onPremisesConfig(),
        gatewayBearerToken: 'stub-bearer-token-0123456789',
      },
    ),
  );
  const shutdown = (): void => {
    void stub.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
