import {
  acceptsGzip,
  contentRange,
  RangeNotSatisfiableError,
  requestedRange,
} from '../../../src/http/byteRange';

describe('requestedRange: one byte range of a file of 1000 bytes', () => {
  it.each([
    ['bytes=0-99', { start: 0, end: 99 }],
    ['bytes=500-', { start: 500, end: 999 }],
    ['bytes=-100', { start: 900, end: 999 }],
    ['bytes=-5000', { start: 0, end: 999 }],
    ['bytes=990-5000', { start: 990, end: 999 }],
    ['bytes=999-999', { start: 999, end: 999 }],
    ['Bytes = 10 - 19', { start: 10, end: 19 }],
  ])('%s is %o', (header, range) => {
    expect(requestedRange(1000, header)).toEqual(range);
  });

  it.each([
    [undefined],
    [''],
    ['bytes=0-9,20-29'],
    ['items=0-9'],
    ['bytes=abc'],
    ['bytes=-'],
    ['bytes=20-10'],
  ])('%s asks for the whole file', (header) => {
    expect(requestedRange(1000, header)).toBeUndefined();
  });

  it('ignores the range under If-Range: no validator is handed out, so none matches', () => {
    expect(requestedRange(1000, 'bytes=0-9', '"some-etag"')).toBeUndefined();
  });

  it.each([['bytes=1000-'], ['bytes=1000-2000'], ['bytes=-0']])('%s is not satisfiable', (header) => {
    const error = (() => {
      try {
        requestedRange(1000, header);
      } catch (e) {
        return e;
      }
    })() as RangeNotSatisfiableError;
    expect(error).toBeInstanceOf(RangeNotSatisfiableError);
    expect(error.statusCode).toBe(416);
    expect(error.contentRange).toBe('bytes */1000');
  });

  it('no range of an empty file is satisfiable', () => {
    expect(() => requestedRange(0, 'bytes=0-')).toThrow(RangeNotSatisfiableError);
    expect(() => requestedRange(0, 'bytes=-10')).toThrow(RangeNotSatisfiableError);
  });

  it('writes Content-Range', () => {
    expect(contentRange({ start: 0, end: 99 }, 1000)).toBe('bytes 0-99/1000');
  });
});

describe('acceptsGzip', () => {
  it.each([
    ['gzip', true],
    ['gzip, deflate, br', true],
    ['br;q=1.0, gzip;q=0.8', true],
    ['*', true],
    ['identity', false],
    ['gzip;q=0', false],
    ['*;q=0.5, gzip;q=0', false],
    [null, false],
  ])('%s → %s', (header, accepted) => {
    expect(acceptsGzip(header)).toBe(accepted);
  });
});
