/**
 * A local Slack for the twin: the `response_url` of slash commands and `chat.postMessage`, on one HTTP server
 * on 127.0.0.1, with the limits the product depends on. A response_url takes at most 5 posts within 30
 * minutes of the command (platform facts); past either limit Slack refuses the post (here 404 with
 * `used_url` or `expired_url` as the body) and the message is lost. chat.postMessage needs the bot token and a
 * channel. The 30 minutes are scaled like every other twin deadline.
 */
import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A response_url's limits (platform facts: Slack response_url). */
export const SLACK_RESPONSE_URL_LIMITS = { posts: 5, seconds: 30 * 60 } as const;

export const SLACK_HOOKS_ORIGIN = 'https://hooks.slack.com';
export const SLACK_API_ORIGIN = 'https://slack.com';

export interface SlackPost {
  /** The response_url path, or `chat.postMessage`. */
  target: string;
  /** The channel (chat.postMessage only). */
  channel: string | null;
  text: string;
  body: Record<string, unknown>;
  accepted: boolean;
  /** Why Slack refused it (used_url, expired_url, invalid_auth, channel_not_found). */
  refusal: string | null;
  at: number;
}

export interface SlackStubOptions {
  /** Real milliseconds standing for one second (the twin's msPerSecond): the 30 minutes are scaled. Default 1000. */
  msPerSecond?: number;
  /** The bot token chat.postMessage accepts; none: chat.postMessage refuses every call. */
  botToken?: string;
}

export class SlackStub {
  readonly posts: SlackPost[] = [];
  private server: Server | null = null;
  private port = 0;
  private readonly issued = new Map<string, { at: number; count: number }>();

  constructor(private readonly options: SlackStubOptions = {}) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req)
        .then(({ status, body }) => {
          res.writeHead(status, { 'content-type': status === 200 && typeof body !== 'string' ? 'application/json' : 'text/plain' });
          res.end(typeof body === 'string' ? body : JSON.stringify(body));
        })
        .catch((error: unknown) => {
          res.writeHead(500);
          res.end(String(error));
        });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A new slash command's response_url (its 30 minutes start now). */
  issueResponseUrl(): string {
    const path = `/commands/T0LOCAL/${Date.now()}/${randomBytes(12).toString('hex')}`;
    this.issued.set(path, { at: Date.now(), count: 0 });
    return `${SLACK_HOOKS_ORIGIN}${path}`;
  }

  /** Posts accepted on a response_url, in order. */
  accepted(responseUrl: string): SlackPost[] {
    const path = new URL(responseUrl).pathname;
    return this.posts.filter((post) => post.target === path && post.accepted);
  }

  /**
   * A fetch for the product's notifier: requests to hooks.slack.com and slack.com go to this stub, anything
   * else is refused (the twin never reaches the internet).
   */
  readonly fetch: typeof fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    if (url.origin !== SLACK_HOOKS_ORIGIN && url.origin !== SLACK_API_ORIGIN) throw new TypeError(`the twin reaches only Slack's stand-in, not ${url.origin}`);
    const local = `${this.url}${url.origin === SLACK_API_ORIGIN ? '/api-origin' : ''}${url.pathname}`;
    return fetch(local, init);
  };

  private async handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return { status: 400, body: 'invalid_payload' };
    }
    const text = typeof body.text === 'string' ? body.text : '';
    const record = (accepted: boolean, refusal: string | null, target: string, channel: string | null = null) => {
      this.posts.push({ target, channel, text, body, accepted, refusal, at: Date.now() });
    };
    if (path === '/api-origin/api/chat.postMessage') {
      const token = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
      const channel = typeof body.channel === 'string' ? body.channel : null;
      if (!this.options.botToken || token !== this.options.botToken) {
        record(false, 'invalid_auth', 'chat.postMessage', channel);
        return { status: 200, body: { ok: false, error: 'invalid_auth' } };
      }
      if (!channel) {
        record(false, 'channel_not_found', 'chat.postMessage', channel);
        return { status: 200, body: { ok: false, error: 'channel_not_found' } };
      }
      record(true, null, 'chat.postMessage', channel);
      return { status: 200, body: { ok: true, channel, ts: `${Date.now() / 1000}` } };
    }
    const issued = this.issued.get(path);
    if (!issued) {
      record(false, 'invalid_url', path);
      return { status: 404, body: 'invalid_url' };
    }
    const limitMs = SLACK_RESPONSE_URL_LIMITS.seconds * (this.options.msPerSecond ?? 1000);
    if (Date.now() - issued.at > limitMs) {
      record(false, 'expired_url', path);
      return { status: 404, body: 'expired_url' };
    }
    if (issued.count >= SLACK_RESPONSE_URL_LIMITS.posts) {
      record(false, 'used_url', path);
      return { status: 404, body: 'used_url' };
    }
    issued.count += 1;
    record(true, null, path);
    return { status: 200, body: 'ok' };
  }
}

export async function startSlackStub(options: SlackStubOptions = {}): Promise<SlackStub> {
  const stub = new SlackStub(options);
  await stub.start();
  return stub;
}
