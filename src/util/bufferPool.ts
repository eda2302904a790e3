/**
 * Reuses the memory of large buffers (source page bodies) instead of allocating it for every page.
 *
 * Fresh memory for a 1.5 MB page costs about 1.8 ms of CPU before a byte of it is used (the kernel
 * maps and zeroes every page of it on first touch), more than copying the body in. And a page body
 * lives through a whole page step, long enough to reach V8's old generation, whose buffers are only
 * freed by a full collection, which V8 starts for buffers only once tens of megabytes of them have
 * piled up. Recycled bodies cost neither: an export holds the pages in flight plus a bounded free list.
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
