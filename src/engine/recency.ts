// A recency order in O(1): an intrusive doubly linked list, least recent at
// the head. (A Map's insertion order is not one: deleting from its front
// leaves holes that every later look at the front walks over again.)

export interface Linked<T> {
  prev: T | null;
  next: T | null;
}

export class Recency<T extends Linked<T>> {
  private head: T | null = null;
  private tail: T | null = null;
  size = 0;

  /** The least recent item, or null. */
  oldest(): T | null {
    return this.head;
  }

  /** Adds an item (in no list) as the most recent. */
  push(item: T): void {
    item.prev = this.tail;
    item.next = null;
    if (this.tail === null) this.head = item;
    else this.tail.next = item;
    this.tail = item;
    this.size++;
  }

  /** Takes an item (in this list) out. */
  unlink(item: T): void {
    if (item.prev === null) this.head = item.next;
    else item.prev.next = item.next;
    if (item.next === null) this.tail = item.prev;
    else item.next.prev = item.prev;
    item.prev = item.next = null;
    this.size--;
  }

  /** Makes an item (in this list) the most recent. */
  renew(item: T): void {
    if (item === this.tail) return;
    this.unlink(item);
    this.push(item);
  }

  /** Every item, least recent first. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i !== null; i = i.next) yield i;
  }
}
