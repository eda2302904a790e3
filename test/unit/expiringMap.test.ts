import { ExpiringMap } from '../../src/util/expiringMap';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ExpiringMap', () => {
  it('given more entries than it holds, when one more is set, then the oldest is dropped and the rest stay', () => {
    const dropped: string[] = [];
    const map = new ExpiringMap<string, string>(2, 60_000, (value) => dropped.push(value));
    map.set('a', 'A');
    map.set('b', 'B');
    map.set('c', 'C');
    expect(dropped).toEqual(['A']);
    expect([map.has('a'), map.get('b'), map.get('c')]).toEqual([false, 'B', 'C']);
  });

  it('given an entry taken, when its time would have been up, then it is handed over once and never dropped', async () => {
    const dropped: string[] = [];
    const map = new ExpiringMap<string, string>(4, 10, (value) => dropped.push(value));
    map.set('a', 'A');
    expect(map.take('a')).toBe('A');
    expect(map.take('a')).toBeUndefined();
    await wait(40);
    expect(dropped).toEqual([]);
  });

  it('given an entry nobody takes, when its time is up, then it is dropped; one set again under its key drops the one before', async () => {
    const dropped: string[] = [];
    const map = new ExpiringMap<string, string>(4, 30, (value) => dropped.push(value));
    map.set('a', 'A');
    map.set('b', 'B1');
    map.set('b', 'B2');
    await wait(80);
    expect(dropped).toEqual(['B1', 'A', 'B2']);
    expect(map.has('a') || map.has('b')).toBe(false);
  });
});
