/** In-process subscriptions to typed events: what the bench counts checkpoints with. */
import { describe, expect, it } from 'vitest';
import { emit, onEvent, type Observed } from '../../src/obs/events.js';

describe('onEvent', () => {
  it('hands each listener the occurrence as emitted, until it unsubscribes', () => {
    const seen: Array<Observed['checkpointWritten']> = [];
    const off = onEvent('checkpointWritten', (c) => seen.push(c));
    emit.checkpointWritten('p1', 't', 3, { devices: 10, delta: 4, bytes: 900, outputs: 2, ms: 7 });
    expect(seen).toEqual([{ pipeline: 'p1', topic: 't', partition: 3, devices: 10, delta: 4, bytes: 900, outputs: 2, ms: 7 }]);
    off();
    emit.checkpointWritten('p1', 't', 3, { devices: 11, delta: 1, bytes: 100, outputs: 0, ms: 1 });
    expect(seen).toHaveLength(1);
  });

  it('keeps occurrences apart and serves several listeners', () => {
    const a: number[] = [];
    const b: number[] = [];
    const ck: number[] = [];
    const offs = [onEvent('outputsPublished', (p) => a.push(p.outputs)), onEvent('outputsPublished', (p) => b.push(p.ms)), onEvent('checkpointWritten', (c) => ck.push(c.delta))];
    emit.outputsPublished('p1', 't', 0, { outputs: 5, upTo: 42n, ms: 12 });
    expect(a).toEqual([5]);
    expect(b).toEqual([12]);
    expect(ck).toEqual([]);
    for (const off of offs) off();
  });
});
