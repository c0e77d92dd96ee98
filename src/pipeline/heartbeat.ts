/**
 * Waiting inside a consumer group's batch (for durable writes, for room in an output lane)
 * without losing the group: the wait heartbeats every second, and gives up when the heartbeat
 * says the group is rebalancing (someone else redoes the batch). Both stages use it.
 */

const REBALANCE_RE = /REBALANCE|ILLEGAL_GENERATION|UNKNOWN_MEMBER|NOT_COORDINATOR/i;

function errType(e: unknown): string {
  return String((e as { type?: string })?.type ?? (e as { name?: string })?.name ?? '');
}

/** Wait for `done` in a batch, heartbeating every second; false on a rebalance. */
export async function whileHeartbeating(done: Promise<boolean>, heartbeat: () => Promise<void>): Promise<boolean> {
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([done, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 1_000)))]);
    clearTimeout(timer);
    if (ok !== undefined) return ok;
    let rebalancing = false;
    await heartbeat().catch((he: unknown) => {
      if (REBALANCE_RE.test(errType(he) + String(he))) rebalancing = true;
    });
    if (rebalancing) return false;
  }
}
