import { BufferPool } from '../../src/util/bufferPool';

describe('BufferPool', () => {
  it('Given a released buffer, When a buffer of at most its size is acquired, Then the same memory is reused', () => {
    const pool = new BufferPool(1024 * 1024, 1024);
    const first = pool.acquire(1500);
    expect(first.length).toBe(1500);
    expect(first.buffer.byteLength).toBe(2048);
    pool.release(first.subarray(10, 20)); // any view of it will do
    const second = pool.acquire(2000);
    expect(second.buffer).toBe(first.buffer);
    expect(second.length).toBe(2000);
    expect(pool.heldBytes).toBe(0);
  });

  it('Given free buffers of several sizes, When one is acquired, Then the smallest that fits is taken', () => {
    const pool = new BufferPool(1024 * 1024, 1024);
    const small = pool.acquire(1024);
    const large = pool.acquire(8 * 1024);
    pool.release(large);
    pool.release(small);
    expect(pool.acquire(900).buffer).toBe(small.buffer);
    expect(pool.acquire(900).buffer).not.toBe(small.buffer); // the large one does not shrink to fit
  });

  it('Given foreign buffers and a repeated release, When released, Then they are ignored', () => {
    const pool = new BufferPool(1024 * 1024, 1024);
    pool.release(Buffer.from('not from the pool'));
    pool.release(Buffer.alloc(4096));
    const mine = pool.acquire(100);
    pool.release(mine);
    pool.release(mine);
    expect(pool.heldBytes).toBe(1024);
    expect(pool.acquire(100).buffer).toBe(mine.buffer);
    expect(pool.acquire(100).buffer).not.toBe(mine.buffer);
  });

  it('Given the free list at its byte bound, When more is released, Then the excess is left to the garbage collector', () => {
    const pool = new BufferPool(2048, 1024);
    const buffers = [pool.acquire(1024), pool.acquire(1024), pool.acquire(1024)];
    for (const buffer of buffers) pool.release(buffer);
    expect(pool.heldBytes).toBe(2048);
  });
});
