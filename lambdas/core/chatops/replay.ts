import { createHash } from 'node:crypto';

/**
 * Refuses a message seen before. Teams outgoing webhooks carry no timestamp, so the activity id is the
 * replay key; for Slack the signature (unique per timestamp and body) serves within its 5-minute window.
 * A durable implementation (DynamoDB conditional put with a TTL) belongs to the handler.
 */
export interface ReplayGuard {
  /** True the first time `messageId` is offered within the retention window (and remembers it); false after. */
  firstSeen(messageId: string, now: Date): Promise<boolean>;
}

export interface InMemoryReplayGuardOptions {
  /** How long an id is remembered. Default 3600 s. */
  ttlSeconds?: number;
  /** Most ids kept; the oldest is forgotten beyond this. Default 10,000. */
  maxEntries?: number;
}

/** A ReplayGuard for one process (tests, the local twin, a single warm Lambda). */
export class InMemoryReplayGuard implements ReplayGuard {
  private readonly seen = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  constructor(options: InMemoryReplayGuardOptions = {}) {
    this.ttlMs = (options.ttlSeconds ?? 3600) * 1000;
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  async firstSeen(messageId: string, now: Date): Promise<boolean> {
    const at = now.getTime();
    for (const [id, expiresAt] of this.seen) {
      if (expiresAt > at) break;
      this.seen.delete(id);
    }
    const expiresAt = this.seen.get(messageId);
    if (expiresAt !== undefined && expiresAt > at) return false;
    this.seen.delete(messageId);
    this.seen.set(messageId, at + this.ttlMs);
    while (this.seen.size > this.maxEntries) {
      const oldest = this.seen.keys().next().value as string;
      this.seen.delete(oldest);
    }
    return true;
  }
}

/**
 * A request id for a chat message: the same message always gives the same id (the intake's idempotency key),
 * and it fits the request id pattern.
 */
export function chatRequestId(source: 'slack' | 'teams', messageKey: string): string {
  return `${source}-${createHash('sha256').update(messageKey, 'utf8').digest('hex').slice(0, 24)}`;
}
