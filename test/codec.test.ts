import { describe, expect, it } from 'vitest';
import { compress, compressAsync, decompress, decompressAsync, inspectFrame, CacheError, type Codec } from '../src/index.js';
import { floatSignal, randomBytes } from './helpers.js';

const CODECS: Codec[] = ['none', 'zstd', 'lz4'];
const ELEMENT_SIZES = [1, 2, 3, 4, 8];
const CHUNK = 4096;
const SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, CHUNK * 5 + 7];

function sample(n: number, seed: number): Buffer {
  // Half smooth floats, half noise: exercises both compressed and stored-raw chunks.
  const f = Buffer.from(floatSignal(Math.ceil(n / 4), seed).buffer).subarray(0, n);
  const noise = randomBytes(n, seed);
  const out = Buffer.from(f);
  for (let i = n >> 1; i < n; i++) out[i] = noise[i];
  return out;
}

describe('compress / decompress round trip', () => {
  for (const codec of CODECS) {
    for (const elementSize of ELEMENT_SIZES) {
      it(`${codec} with elementSize ${elementSize} at sizes 0, 1, chunk-1, chunk, chunk+1, many chunks`, () => {
        for (const n of SIZES) {
          const data = sample(n, n + elementSize);
          const frame = compress(data, { codec, elementSize, chunkSize: CHUNK });
          const back = decompress(frame);
          expect(back.equals(data), `size ${n}`).toBe(true);
          const info = inspectFrame(frame);
          expect(info).toMatchObject({ codec, rawLength: n, elementSize });
          expect(info.chunkCount).toBe(Math.ceil(n / info.chunkSize));
        }
      });
    }
  }

  it('round trips with the default 1 MiB chunks across several chunks, async too', async () => {
    const data = Buffer.from(floatSignal((3 << 20) / 4 + 100, 3).buffer);
    for (const codec of CODECS) {
      const frame = await compressAsync(data, { codec, elementSize: 4 });
      expect((await decompressAsync(frame)).equals(data)).toBe(true);
      expect(decompress(frame).equals(data)).toBe(true);
    }
  });

  it('accepts every level in range for zstd and lz4', () => {
    const data = sample(10000, 1);
    for (const level of [-7, 1, 3, 19, 22]) expect(decompress(compress(data, { codec: 'zstd', level })).equals(data)).toBe(true);
    for (const level of [1, 2, 3, 9, 12]) expect(decompress(compress(data, { codec: 'lz4', level })).equals(data)).toBe(true);
  });

  it('shuffling makes smooth float32 data compress better than plain zstd', () => {
    const data = floatSignal(1 << 18, 5);
    const plain = compress(data, { codec: 'zstd', level: 1 });
    const shuffled = compress(data, { codec: 'zstd', level: 1, elementSize: 4 });
    expect(shuffled.byteLength).toBeLessThan(plain.byteLength);
  });

  it('does not grow incompressible data beyond header and chunk table', () => {
    const data = randomBytes(10 * CHUNK, 77);
    for (const codec of CODECS) {
      const frame = compress(data, { codec, chunkSize: CHUNK });
      expect(frame.byteLength).toBeLessThanOrEqual(data.byteLength + 36 + 4 * 10);
    }
  });
});

describe('decompress of damaged bytes', () => {
  const data = sample(3 * 1000 + 17, 9);
  const frames = CODECS.map((codec) => compress(data, { codec, elementSize: 4, chunkSize: 1000 }));

  it('never returns wrong data for a flipped bit: header and table flips always throw ERR_CORRUPT', () => {
    // A few payload bits cannot change the output (an LZ match offset moved onto identical bytes,
    // entropy-coder padding); those must decode to exactly the original. Everything else throws.
    for (const frame of frames) {
      const tableEnd = 36 + 4 * inspectFrame(frame).chunkCount;
      let harmless = 0;
      for (let i = 0; i < frame.byteLength; i++) {
        const bad = Buffer.from(frame);
        bad[i] ^= 1 << (i % 8);
        let out: Buffer | undefined;
        try {
          out = decompress(bad);
        } catch (err) {
          expect(err, `byte ${i}`).toBeInstanceOf(CacheError);
          expect((err as CacheError).code).toBe('ERR_CORRUPT');
          continue;
        }
        expect(i, 'a header or chunk-table flip was accepted').toBeGreaterThanOrEqual(tableEnd);
        expect(out.equals(data), `byte ${i} decoded to different bytes`).toBe(true);
        harmless++;
      }
      expect(harmless).toBeLessThan(frame.byteLength * 0.05);
    }
  });

  it('detects every truncation as ERR_CORRUPT', () => {
    for (const frame of frames) {
      for (let n = 0; n < frame.byteLength; n++) {
        expect(() => decompress(frame.subarray(0, n)), `length ${n}`).toThrow(CacheError);
      }
    }
  });

  it('rejects trailing garbage, foreign bytes and a future format version', () => {
    const frame = frames[1];
    expect(() => decompress(Buffer.concat([frame, Buffer.from([0])]))).toThrow(/ERR_CORRUPT|corrupt|size|length/i);
    expect(() => decompress(Buffer.from('PK\x03\x04 not a frame at all, just bytes'))).toThrow(CacheError);
    const future = Buffer.from(frame);
    future[3] = 2;
    expect(() => decompress(future)).toThrow(CacheError);
  });

  it('rejects damaged frames asynchronously with ERR_CORRUPT too', async () => {
    const bad = Buffer.from(frames[2]);
    bad[bad.length - 1] ^= 0xff;
    await expect(decompressAsync(bad)).rejects.toMatchObject({ code: 'ERR_CORRUPT' });
  });

  it('refuses frames larger than maxBytes before allocating', () => {
    expect(() => decompress(frames[0], { maxBytes: 100 })).toThrow(CacheError);
    expect(decompress(frames[0], { maxBytes: data.byteLength }).equals(data)).toBe(true);
  });

  it('refuses a small frame that expands far beyond maxBytes (a compression bomb) as ERR_CORRUPT, sync and async', async () => {
    const bomb = compress(Buffer.alloc(64 << 20), { codec: 'zstd', chunkSize: 1 << 30 });
    expect(bomb.byteLength).toBeLessThan(64 << 10);
    const limit = { maxBytes: 1 << 20 };
    expect(() => decompress(bomb, limit)).toThrow(/raw length 67108864 exceeds the limit of 1048576 bytes/);
    expect(() => decompress(bomb, limit)).toThrow(expect.objectContaining({ code: 'ERR_CORRUPT' }));
    await expect(decompressAsync(bomb, limit)).rejects.toMatchObject({ code: 'ERR_CORRUPT', message: expect.stringMatching(/exceeds the limit/) });
  });

  it('validates maxBytes when given', () => {
    expect(() => decompress(frames[0], { maxBytes: -1 })).toThrow(RangeError);
    expect(() => decompress(frames[0], { maxBytes: Number.NaN })).toThrow(/options\.maxBytes/);
    expect(() => decompress(frames[0], { maxBytes: '10' as never })).toThrow(TypeError);
    expect(() => decompress(frames[0], { maxbytes: 10 } as never)).toThrow(/"maxbytes"/);
  });
});

describe('compress options', () => {
  it('rejects unknown codecs, levels, element sizes and chunk sizes with messages naming them', () => {
    const d = Buffer.alloc(10);
    expect(() => compress(d, { codec: 'gzip' as Codec })).toThrow(/options\.codec/);
    expect(() => compress(d, { codec: 'zstd', level: 23 })).toThrow(RangeError);
    expect(() => compress(d, { codec: 'lz4', level: 0 })).toThrow(/options\.level/);
    expect(() => compress(d, { elementSize: 0 })).toThrow(/options\.elementSize/);
    expect(() => compress(d, { elementSize: 256 })).toThrow(RangeError);
    expect(() => compress(d, { chunkSize: 0 })).toThrow(/options\.chunkSize/);
    expect(() => compress(d, { chunkSize: 1.5 })).toThrow(RangeError);
  });

  it('names a misspelled option', () => {
    expect(() => compress(Buffer.alloc(1), { chunksize: 10 } as never)).toThrow(/"chunksize"/);
  });
});
