// IPv4 addresses (as unsigned 32-bit numbers) to values, for the attempt
// table's sources. A flood at the MaxSources cap deletes one source for every
// one it adds: a Map leaves each deleted entry in its table until it rehashes
// into a new one, some 3.7 MB every 30,000 evictions at the default cap, all
// of it garbage. Open addressing with backward-shift deletion keeps one table
// that only grows with the number of sources, and allocates nothing on churn.
// The hash is simple tabulation over the address's four bytes, with tables
// drawn at random per map: with a known hash anyone can compute addresses that
// all land in one slot and spoof a flood from them that turns every lookup
// into a walk of the whole run (hash flooding); and with linear probing a
// random multiplier (multiply-shift) still had a heavy tail on sequential or
// strided addresses (measured: some tables averaged over 1,000 probes).

import { randomFillSync } from 'node:crypto';

/** The first table's slots (a power of two); it doubles whenever it would be more than half full. */
const MIN_SLOTS = 1024;

export class Ipv4Map<V> {
  private keys = new Uint32Array(MIN_SLOTS);
  /** undefined: a free slot. */
  private values: (V | undefined)[] = new Array<V | undefined>(MIN_SLOTS).fill(undefined);
  private mask = MIN_SLOTS - 1;
  private shift = 32 - Math.log2(MIN_SLOTS);
  /** Four tables of 256 random words, one per byte of the key. */
  private readonly table = randomFillSync(new Uint32Array(4 * 256));
  size = 0;

  get(key: number): V | undefined {
    const { keys, values, mask } = this;
    for (let i = this.home(key); ; i = (i + 1) & mask) {
      const v = values[i];
      if (v === undefined || keys[i] === key) return v;
    }
  }

  /** Adds or replaces. */
  set(key: number, value: V): void {
    const { keys, values, mask } = this;
    let i = this.home(key);
    while (values[i] !== undefined && keys[i] !== key) i = (i + 1) & mask;
    if (values[i] === undefined) this.size++;
    keys[i] = key;
    values[i] = value;
    if (this.size * 2 > values.length) this.grow();
  }

  delete(key: number): boolean {
    const { keys, values, mask } = this;
    let i = this.home(key);
    for (;;) {
      if (values[i] === undefined) return false;
      if (keys[i] === key) break;
      i = (i + 1) & mask;
    }
    // Backward shift: an entry after the hole moves into it unless its home lies cyclically in (hole, entry].
    for (let j = (i + 1) & mask; values[j] !== undefined; j = (j + 1) & mask) {
      const h = this.home(keys[j]!);
      const stays = i <= j ? i < h && h <= j : i < h || h <= j;
      if (stays) continue;
      keys[i] = keys[j]!;
      values[i] = values[j];
      i = j;
    }
    values[i] = undefined;
    this.size--;
    return true;
  }

  /** The slot a key hashes to: the top bits of the XOR of its bytes' random words (simple tabulation). */
  private home(key: number): number {
    const t = this.table;
    return (t[key & 255]! ^ t[256 + ((key >>> 8) & 255)]! ^ t[512 + ((key >>> 16) & 255)]! ^ t[768 + (key >>> 24)]!) >>>
      this.shift;
  }

  private grow(): void {
    const { keys, values } = this;
    const slots = values.length * 2;
    this.keys = new Uint32Array(slots);
    this.values = new Array<V | undefined>(slots).fill(undefined);
    this.mask = slots - 1;
    this.shift--;
    this.size = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v !== undefined) this.set(keys[i]!, v);
    }
  }
}
