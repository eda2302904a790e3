/**
 * Reuses the memory of large buffers (source page bodies) instead of allocating it for every page.
 *
 * A page body lives for a whole page step (fetch, scan, stage, commit, checkpoint): long enough for
 * V8 to move it to the old generation, whose buffers are only freed by a full collection, and V8
 * starts one for buffers only once tens of megabytes of them have piled up. Recycled bodies never
 * become garbage, so the memory of an export stays at the pages in flight plus a bounded free list.
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  private freeBytes = 0;
  /** Memory this pool handed out: only that is ever taken back. */
  private readonly owned = new WeakSet<ArrayBuffer>();

  /**
   * @param maxFreeBytes memory kept for reuse at most; more is left to the garbage collector
   * @param granularity allocation sizes are rounded up to a multiple of this, so sizes repeat
   */
  constructor(
    private readonly maxFreeBytes: number,
    private readonly granularity = 256 * 1024,
  ) {}

  /** A buffer of exactly `bytes` (contents undefined), over pooled memory of at least that size. */
  acquire(bytes: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const size = this.free[i].byteLength;
      if (size >= bytes && (best < 0 || size < this.free[best].byteLength)) best = i;
    }
    if (best >= 0) {
      const [memory] = this.free.splice(best, 1);
      this.freeBytes -= memory.byteLength;
      return Buffer.from(memory, 0, bytes);
    }
    const memory = new ArrayBuffer(Math.max(1, Math.ceil(bytes / this.granularity)) * this.granularity);
    this.owned.add(memory);
    return Buffer.from(memory, 0, bytes);
  }

  /**
   * Takes back the memory of a buffer from `acquire` (any view of it will do). Nothing may read or
   * write any view of that memory afterwards. Other buffers and repeated releases are ignored.
   */
  release(buffer: Buffer): void {
    const memory = buffer.buffer;
    if (!(memory instanceof ArrayBuffer) || !this.owned.has(memory) || this.free.includes(memory)) return;
    if (this.freeBytes + memory.byteLength > this.maxFreeBytes) return;
    this.free.push(memory);
    this.freeBytes += memory.byteLength;
  }

  /** Bytes held for reuse (for tests and diagnostics). */
  get heldBytes(): number {
    return this.freeBytes;
  }
}
