import { hash } from 'node:crypto';

/**
 * How many distinct strings were added: exact while there are few (a set), then a HyperLogLog of
 * 2^precision registers (16 KiB at 14, about 0.8% error; 1 KiB at 10, about 3%), so memory stays
 * bounded whatever the number of users. `exact` says which the count is.
 */
export class DistinctCount {
  private set: Set<string> | undefined = new Set();
  private registers: Uint8Array | undefined;

  constructor(private readonly exactUpTo = 10_000, private readonly precision = 14) {}

  add(value: string): void {
    if (this.set) {
      this.set.add(value);
      if (this.set.size > this.exactUpTo) {
        this.registers = new Uint8Array(1 << this.precision);
        for (const v of this.set) this.sketch(v);
        this.set = undefined;
      }
      return;
    }
    this.sketch(value);
  }

  get exact(): boolean {
    return this.set !== undefined;
  }

  count(): number {
    if (this.set) return this.set.size;
    const r = this.registers!;
    const m = r.length;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < m; i++) { sum += 2 ** -r[i]!; if (r[i] === 0) zeros += 1; }
    const alpha = 0.7213 / (1 + 1.079 / m);
    const estimate = (alpha * m * m) / sum;
    // Few distinct values for the registers: linear counting is the better estimate there.
    return Math.round(estimate <= 2.5 * m && zeros > 0 ? m * Math.log(m / zeros) : estimate);
  }

  private sketch(value: string): void {
    // SHA-1 is slow for a sketch, but the record it comes from costs a hundred times more to read.
    const h = hash('sha1', value, 'buffer') as unknown as Buffer;
    const p = this.precision;
    const index = h.readUInt16BE(0) >>> (16 - p);
    const rest = (h.readUInt32BE(1) << (p - 8)) >>> 0;
    const rank = rest === 0 ? 33 : Math.clz32(rest) + 1;
    if (rank > this.registers![index]!) this.registers![index] = rank;
  }
}

/**
 * A few examples of many: the ones whose text hashes lowest (a bottom-k sample), so the same input
 * gives the same examples in any order and on any run.
 */
export class Examples<T> {
  private readonly kept: Array<{ rank: string; value: T }> = [];

  constructor(private readonly k = 3) {}

  add(value: T, text: string): void {
    const rank = hash('sha1', text, 'hex') as unknown as string;
    if (this.kept.length === this.k && rank >= this.kept.at(-1)!.rank) return;
    if (this.kept.some((e) => e.rank === rank)) return;
    this.kept.push({ rank, value });
    this.kept.sort((a, b) => (a.rank < b.rank ? -1 : 1));
    if (this.kept.length > this.k) this.kept.pop();
  }

  values(): T[] {
    return this.kept.map((e) => e.value);
  }
}

/** The `k` largest items by `size`, ties broken by `key`, so the list is the same in any order. */
export class Largest<T> {
  private readonly kept: Array<{ size: number; key: string; value: T }> = [];

  constructor(private readonly k = 5) {}

  add(size: number, key: string, value: T): void {
    const last = this.kept.at(-1);
    if (this.kept.length === this.k && last && (size < last.size || (size === last.size && key >= last.key))) return;
    this.kept.push({ size, key, value });
    this.kept.sort((a, b) => b.size - a.size || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    if (this.kept.length > this.k) this.kept.pop();
  }

  values(): T[] {
    return this.kept.map((e) => e.value);
  }
}
