// A binary min-heap ordered by time: the engine's deadlines (sequence timeouts,
// door closes), so that tick() and nextDeadline() cost O(log n), not a scan of
// every attempt, even with 100,000 sources knocking.

export interface Timed {
  at: number;
}

export class MinHeap<T extends Timed> {
  private items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent]!.at <= item.at) break;
      a[i] = a[parent]!;
      i = parent;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && a[r]!.at < a[l]!.at ? r : l;
        if (a[c]!.at >= last.at) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }

  /** Keeps only the items `keep` accepts (drops entries made stale by later events); `dropped` sees the others. */
  filter(keep: (item: T) => boolean, dropped: (item: T) => void): void {
    const kept: T[] = [];
    for (const item of this.items) {
      if (keep(item)) kept.push(item);
      else dropped(item);
    }
    this.items = [];
    for (const item of kept) this.push(item);
  }
}
