/** Profiles (named requests) from SSM Parameter Store under one path prefix, and secrets from Secrets Manager by name. */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { ProfileStore, SecretSource } from '../core/ports.js';

const PROFILE_NAME = /^[A-Za-z0-9._-]{1,64}$/;

export class SsmProfileStore implements ProfileStore {
  constructor(
    private readonly ssm: SSMClient,
    private readonly prefix: string,
  ) {}

  async getProfile(name: string): Promise<Record<string, unknown> | null> {
    if (!PROFILE_NAME.test(name)) return null;
    try {
      const result = await this.ssm.send(new GetParameterCommand({ Name: `${this.prefix.replace(/\/$/, '')}/${name}`, WithDecryption: true }));
      const text = result.Parameter?.Value;
      if (!text) return null;
      const value = JSON.parse(text) as unknown;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`profile ${name} is not a JSON object`);
      return value as Record<string, unknown>;
    } catch (error) {
      if ((error as { name?: string }).name === 'ParameterNotFound') return null;
      throw error;
    }
  }
}

/** Reads only the secrets named at construction (the ones the stack granted); caches each for a few minutes. */
export class SecretsManagerSource implements SecretSource {
  private readonly cache = new Map<string, { value: string; until: number }>();
  constructor(
    private readonly client: SecretsManagerClient,
    private readonly allowed: readonly string[],
    private readonly ttlMs = 5 * 60 * 1000,
    private readonly now: () => number = Date.now,
  ) {}

  async getSecret(name: string): Promise<string> {
    if (!this.allowed.includes(name)) throw new Error(`secret ${name} is not one this function may read`);
    const cached = this.cache.get(name);
    if (cached && cached.until > this.now()) return cached.value;
    const result = await this.client.send(new GetSecretValueCommand({ SecretId: name }));
    if (!result.SecretString) throw new Error(`secret ${name} has no string value`);
    this.cache.set(name, { value: result.SecretString, until: this.now() + this.ttlMs });
    return result.SecretString;
  }

  /** After a 401 the FNMS client asks again: the cached value may be stale. */
  forget(name: string): void {
    this.cache.delete(name);
  }
}
