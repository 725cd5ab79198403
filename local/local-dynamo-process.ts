/**
 * The local DynamoDB engine (dynalite and the transaction front of local-dynamo.ts) as a process of its own:
 * started by startLocalDynamo({ ownProcess: true }) with the tables' key names as JSON in argv; prints the
 * endpoint as one JSON line and serves until killed (or until its parent is gone).
 */
import { startDynamoEngine } from './local-dynamo.js';

const keyNames = JSON.parse(process.argv[2] ?? '{}') as Record<string, string[]>;
const engine = await startDynamoEngine(keyNames);
process.stdout.write(`${JSON.stringify({ endpoint: engine.endpoint })}\n`);
// An orphan never outlives the twin that started it.
const parent = process.ppid;
setInterval(() => {
  try {
    process.kill(parent, 0);
  } catch {
    process.exit(0);
  }
}, 1000).unref();
process.on('SIGTERM', () => void engine.close().then(() => process.exit(0)));
