/**
 * Request rate limits of the HTTP API, per client address: a token bucket for all requests and
 * a stricter one for failed authentications (online token guessing). Memory is bounded: at most
 * MAX_CLIENTS buckets, the least recently used dropped first (a Map keeps insertion order, and a
 * client seen again is moved to the end).
 */
export interface RateLimitOptions {
  /** Sustained requests per second per client. */
  perSecond: number;
  /** Requests a client may make at once. */
  burst: number;
}

const MAX_CLIENTS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  constructor(private readonly o: RateLimitOptions) {}

  /** Takes one token for `client`; false (and seconds until the next one) when there is none. */
  take(client: string, now: number = Date.now()): { ok: true } | { ok: false; retryAfterS: number } {
    let b = this.buckets.get(client);
    if (b) this.buckets.delete(client);
    else {
      b = { tokens: this.o.burst, at: now };
      if (this.buckets.size >= MAX_CLIENTS) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(client, b);
    b.tokens = Math.min(this.o.burst, b.tokens + ((now - b.at) / 1000) * this.o.perSecond);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / this.o.perSecond)) };
  }

  /** Whether `client` has a token left, without taking one. */
  peek(client: string, now: number = Date.now()): boolean {
    const b = this.buckets.get(client);
    return !b || Math.min(this.o.burst, b.tokens + ((now - b.at) / 1000) * this.o.perSecond) >= 1;
  }
}
