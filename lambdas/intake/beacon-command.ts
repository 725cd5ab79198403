/**
 * The intake's side of a per-beacon command sent through the queue (a chat `rollback` or `retry`): start
 * it with the same core function the API uses, or record why it was refused and tell the requester.
 * Either way the message is done: a refusal cannot be fixed by delivering it again.
 */
import type { SQSRecord } from 'aws-lambda';
import { type BeaconCommandDeps, type BeaconCommandMessage, startBeaconCommand } from '../core/beacon-commands.js';
import { isBeaconCommandError } from '../core/beacon-history.js';
import { isRequestError } from '../core/errors.js';
import { type Caller, describeCaller } from '../core/caller.js';
import type { Notifier, ReplyTo, RequestRecord, RequestSource } from '../core/ports.js';

export async function runQueuedBeaconCommand(
  deps: BeaconCommandDeps & { notifier: Notifier },
  message: BeaconCommandMessage,
  meta: { source: RequestSource; replyTo: ReplyTo | null; record: SQSRecord; caller: Caller },
): Promise<void> {
  try {
    // The body's requestedBy is what the producer says; the caller SQS vouches for is what is recorded.
    await startBeaconCommand(deps, { kind: message.beaconCommand, instanceId: message.instanceId, caller: meta.caller, source: meta.source, requestId: message.requestId, replyTo: meta.replyTo });
  } catch (error) {
    if (!isBeaconCommandError(error) && !isRequestError(error)) throw error;
    await refuse(deps, message.requestId, meta, error.toJSON().error, message);
  }
}

/** Records a refused command under its request id (the id the chat answer named) and tells the requester. */
export async function refuse(
  deps: Pick<BeaconCommandDeps, 'store' | 'clock'> & { notifier: Notifier },
  requestId: string,
  meta: { source: RequestSource; replyTo: ReplyTo | null; caller: Caller },
  error: NonNullable<RequestRecord['error']>,
  message?: BeaconCommandMessage,
): Promise<void> {
  const at = deps.clock.now().toISOString();
  const created = await deps.store.recordRequest({
    requestId,
    state: 'invalid',
    source: meta.source,
    receivedAt: at,
    error,
    ...(message ? { instanceIds: [message.instanceId] } : {}),
    requestedBy: describeCaller(meta.caller),
    caller: meta.caller,
  });
  if (created !== 'created') return;
  await deps.store.appendAudit({ requestId, at, event: 'request.refused', ...(message ? { instanceId: message.instanceId } : {}), detail: { ...error, ...(message ? { command: message.beaconCommand } : {}) } });
  await deps.notifier.notify({ requestId, state: 'invalid', summary: `${message?.beaconCommand ?? 'command'} refused: ${error.message}`, reasons: [`${error.code} at ${error.field}`] }, meta.replyTo ?? undefined);
}
