import type { ExportDestination } from '../../../src/destination/exportDestination';
import { StageAhead } from '../../../src/export/stageAhead';
import type { SearchPage } from '../../../src/sources/searchSource';

/** A destination whose uploads finish when the test says so; only stageBlock is used here. */
function controlledDestination() {
  const uploads: Array<{ blockId: string; finish: () => void; fail: () => void }> = [];
  const destination = {
    stageBlock: (_blob: string, blockId: string) =>
      new Promise<void>((finish, reject) => {
        uploads.push({ blockId, finish, fail: () => reject(new Error('storage went away')) });
      }),
  } as unknown as ExportDestination;
  return { destination, uploads };
}

function pageOf(text: string, released: string[]): { page: SearchPage; data: Buffer } {
  const data = Buffer.from(text);
  const page: SearchPage = { resources: [], ndjson: { bytes: data, lines: 1 } };
  page.release = () => released.push(text);
  return { page, data };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('StageAhead', () => {
  it('Given a block staged ahead, When the next page step takes it with the same bytes, Then it waits for the upload and it counts as stored', async () => {
    const { destination, uploads } = controlledDestination();
    const ahead = new StageAhead();
    const { page, data } = pageOf('a\n', []);
    ahead.start(destination, 'blob', 'id-1', page, data);
    let taken: boolean | undefined;
    const taking = ahead.take('blob', 'id-1', data).then((stored) => (taken = stored));
    await settle();
    expect(taken).toBeUndefined();
    uploads[0].finish();
    await taking;
    expect(taken).toBe(true);
    expect(ahead.used).toBe(1);
    // Taken once: a second step for the same block stages it itself.
    expect(await ahead.take('blob', 'id-1', data)).toBe(false);
  });

  it('Given a block staged ahead, When taken with other bytes (another page), under another id, or after the upload failed, Then it does not count as stored', async () => {
    const { destination, uploads } = controlledDestination();
    const ahead = new StageAhead();
    const { page, data } = pageOf('a\n', []);
    ahead.start(destination, 'blob', 'id-1', page, data);
    expect(await ahead.take('blob', 'id-2', data)).toBe(false);
    expect(await ahead.take('blob', 'id-1', Buffer.from('a\n'))).toBe(false);

    ahead.start(destination, 'blob', 'id-3', page, data);
    uploads[1].fail();
    expect(await ahead.take('blob', 'id-3', data)).toBe(false);
    expect(ahead.used).toBe(0);
    expect(ahead.unused).toBe(2);
  });

  it('Given a page whose block is being staged ahead, When its memory is released, Then it is given back only once the upload is over', async () => {
    const { destination, uploads } = controlledDestination();
    const released: string[] = [];
    const ahead = new StageAhead();
    const { page, data } = pageOf('a\n', released);
    ahead.start(destination, 'blob', 'id-1', page, data);
    page.release?.();
    await settle();
    expect(released).toEqual([]);
    uploads[0].fail();
    await settle();
    expect(released).toEqual(['a\n']);
  });

  it('Given a block staged ahead that nobody takes, When its time is up, Then it is forgotten (it holds no page memory any more)', async () => {
    const { destination, uploads } = controlledDestination();
    const ahead = new StageAhead(8, 10);
    const { page, data } = pageOf('a\n', []);
    ahead.start(destination, 'blob', 'id-1', page, data);
    uploads[0].finish();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ahead.unused).toBe(1);
    expect(await ahead.take('blob', 'id-1', data)).toBe(false);
  });

  it('Given more blocks staged ahead than it tracks, When the oldest is asked for, Then it is forgotten (the step stages it itself); the newest is kept', async () => {
    const { destination, uploads } = controlledDestination();
    const ahead = new StageAhead(2);
    const pages = ['a\n', 'b\n', 'c\n'].map((text) => pageOf(text, []));
    pages.forEach(({ page, data }, i) => ahead.start(destination, 'blob', `id-${i}`, page, data));
    for (const upload of uploads) upload.finish();
    expect(await ahead.take('blob', 'id-0', pages[0].data)).toBe(false);
    expect(await ahead.take('blob', 'id-2', pages[2].data)).toBe(true);
  });
});
