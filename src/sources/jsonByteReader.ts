/**
 * The JSON grammar over UTF-8 bytes, for scanners that validate a body as `JSON.parse` does but
 * build only parts of it (searchsetScanner.ts): a position in the body, whitespace, values skipped
 * without being built, and the string just skipped decoded when asked for.
 *
 * Plain string bytes are most of a FHIR page (narratives, codes), so strings are skipped a 32-bit
 * word at a time from the word boundaries of the body's memory.
 */

export const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** 1 for bytes that may appear unescaped inside a JSON string: not a quote, backslash or control character. */
const PLAIN_STRING_BYTE = new Uint8Array(256).map((_, byte) =>
  byte >= 0x20 && byte !== QUOTE && byte !== BACKSLASH ? 1 : 0,
);

/**
 * True when none of the four bytes of `word` is a control character, a quote or a backslash. Bit
 * tricks on the whole word: `(x - 0x20202020) & ~x & 0x80808080` is non-zero exactly when some byte
 * of x is below 0x20, and a byte equal to q is a zero byte of `x ^ q…q` (any borrow these
 * subtractions carry into a higher byte starts at a byte that matched, so the tests are exact).
 */
function isPlainWord(word: number): boolean {
  const quote = word ^ 0x22222222;
  const backslash = word ^ 0x5c5c5c5c;
  const control = (word - 0x20202020) & ~word;
  const quoteZero = (quote - 0x01010101) & ~quote;
  const backslashZero = (backslash - 0x01010101) & ~backslash;
  return ((control | quoteZero | backslashZero) & 0x80808080) === 0;
}

export class JsonByteReader {
  pos = 0;
  /** Set when whitespace was skipped since it was last cleared. */
  sawWhitespace = false;
  /** Whether the last string skipped had an escape sequence. */
  escaped = false;

  /** The body as aligned 32-bit words (from byte `wordBase`), to skip plain string bytes four at a time. */
  private readonly words: Int32Array;
  private readonly wordBase: number;

  constructor(protected readonly b: Buffer) {
    this.wordBase = (4 - (b.byteOffset & 3)) & 3;
    this.words =
      b.length < this.wordBase + 4
        ? new Int32Array(0)
        : new Int32Array(b.buffer, b.byteOffset + this.wordBase, (b.length - this.wordBase) >>> 2);
  }

  fail(): never {
    throw new SyntaxError(`Invalid JSON at byte ${this.pos}`);
  }

  skipWhitespace(): void {
    const b = this.b;
    let i = this.pos;
    const start = i;
    for (;;) {
      const c = b[i];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    if (i !== start) this.sawWhitespace = true;
    this.pos = i;
  }

  /** The string that was just skipped, from its opening quote at `start`: no JSON.parse without escapes. */
  protected stringAt(start: number): string {
    return this.escaped
      ? (JSON.parse(this.b.toString('utf8', start, this.pos)) as string)
      : this.b.toString('utf8', start + 1, this.pos - 1);
  }

  /** Validates any value at `pos` without building it. */
  protected skipValue(depth: number): void {
    if (depth > 5000) this.fail();
    const c = this.b[this.pos];
    if (c === 0x7b || c === 0x5b) {
      const close = c === 0x7b ? 0x7d : 0x5d;
      this.pos++;
      this.skipWhitespace();
      if (this.b[this.pos] === close) {
        this.pos++;
        return;
      }
      for (;;) {
        if (close === 0x7d) {
          if (this.b[this.pos] !== QUOTE) this.fail();
          this.skipString();
          this.skipWhitespace();
          if (this.b[this.pos] !== 0x3a) this.fail();
          this.pos++;
          this.skipWhitespace();
        }
        this.skipValue(depth + 1);
        this.skipWhitespace();
        const next = this.b[this.pos++];
        if (next === close) return;
        if (next !== 0x2c) {
          this.pos--;
          this.fail();
        }
        this.skipWhitespace();
      }
    }
    this.skipScalar();
  }

  /** A string, number, `true`, `false` or `null` at `pos`. */
  protected skipScalar(): void {
    const b = this.b;
    const c = b[this.pos];
    if (c === QUOTE) return this.skipString();
    if (c === 0x74) return this.literal('true');
    if (c === 0x66) return this.literal('false');
    if (c === 0x6e) return this.literal('null');
    this.skipNumber();
  }

  private literal(word: string): void {
    for (let k = 0; k < word.length; k++) {
      if (this.b[this.pos + k] !== word.charCodeAt(k)) this.fail();
    }
    this.pos += word.length;
  }

  private skipNumber(): void {
    const b = this.b;
    let i = this.pos;
    if (b[i] === 0x2d) i++;
    if (b[i] === 0x30) i++;
    else if (b[i] >= 0x31 && b[i] <= 0x39) while (b[i] >= 0x30 && b[i] <= 0x39) i++;
    else {
      this.pos = i;
      this.fail();
    }
    if (b[i] === 0x2e) {
      i++;
      if (!(b[i] >= 0x30 && b[i] <= 0x39)) {
        this.pos = i;
        this.fail();
      }
      while (b[i] >= 0x30 && b[i] <= 0x39) i++;
    }
    if (b[i] === 0x65 || b[i] === 0x45) {
      i++;
      if (b[i] === 0x2b || b[i] === 0x2d) i++;
      if (!(b[i] >= 0x30 && b[i] <= 0x39)) {
        this.pos = i;
        this.fail();
      }
      while (b[i] >= 0x30 && b[i] <= 0x39) i++;
    }
    this.pos = i;
  }

  /** The first word boundary from `at` (one) whose word holds a byte that is not plain. */
  private skipPlainWords(at: number): number {
    const words = this.words;
    let w = (at - this.wordBase) >> 2;
    while (w < words.length && isPlainWord(words[w])) w++;
    return this.wordBase + (w << 2);
  }

  /** A string at `pos` (on its opening quote): escapes checked, no raw control characters. */
  protected skipString(): void {
    const b = this.b;
    const end = b.length;
    let i = this.pos + 1;
    this.escaped = false;
    for (;;) {
      // Plain characters are most of a page (narratives, codes): skip them with one table look-up
      // each, and whole words of them at once from each word boundary on. Past the end `b[i]` is
      // undefined, which is not a plain character either.
      while (PLAIN_STRING_BYTE[b[i]] === 1) {
        i++;
        if (((i - this.wordBase) & 3) === 0) i = this.skipPlainWords(i);
      }
      if (i >= end) {
        this.pos = i;
        this.fail();
      }
      const c = b[i];
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        this.escaped = true;
        const e = b[i + 1];
        if (e === 0x75) {
          for (let k = 2; k < 6; k++) {
            const h = b[i + k];
            const hex = (h >= 0x30 && h <= 0x39) || (h >= 0x41 && h <= 0x46) || (h >= 0x61 && h <= 0x66);
            if (!hex) {
              this.pos = i;
              this.fail();
            }
          }
          i += 6;
        } else if (
          e === 0x22 ||
          e === 0x5c ||
          e === 0x2f ||
          e === 0x62 ||
          e === 0x66 ||
          e === 0x6e ||
          e === 0x72 ||
          e === 0x74
        ) {
          i += 2;
        } else {
          this.pos = i;
          this.fail();
        }
      } else if (c < 0x20) {
        this.pos = i;
        this.fail();
      } else {
        i++;
      }
    }
    this.pos = i + 1;
  }
}
