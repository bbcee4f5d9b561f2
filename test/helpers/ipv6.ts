// The kernel prints IPv6 addresses in full; tests write lines the same way.

/** `fd31::2` -> `fd31:0000:0000:0000:0000:0000:0000:0002`. */
export function expandIPv6(a: string): string {
  const [head = '', tail] = a.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join(':');
}
