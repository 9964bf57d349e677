import { describe, expect, it } from 'vitest';
import { castBfloat16ToFloat32, castFloat16ToFloat32, castFloat32ToBfloat16, castFloat32ToFloat16 } from '../src/index.js';

const f16 = (values: number[]) => Array.from(castFloat32ToFloat16(new Float32Array(values)));
const bf16 = (values: number[]) => Array.from(castFloat32ToBfloat16(new Float32Array(values)));
const bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
const fromBits = (b: number) => new Float32Array(new Uint32Array([b]).buffer)[0];

describe('float32 -> float16', () => {
  it('converts exact values, signed zeros and the largest finite value', () => {
    expect(f16([0, -0, 1, -2, 0.5, 65504])).toEqual([0x0000, 0x8000, 0x3c00, 0xc000, 0x3800, 0x7bff]);
  });

  it('sends overflow to infinity and keeps infinities and NaN', () => {
    const [big, inf, ninf, nan] = f16([65520, Infinity, -Infinity, NaN]);
    expect(big).toBe(0x7c00);
    expect(inf).toBe(0x7c00);
    expect(ninf).toBe(0xfc00);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x03ff).not.toBe(0);
  });

  it('rounds ties to even', () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: even mantissa (1.0) wins.
    expect(f16([1 + 2 ** -11])).toEqual([0x3c00]);
    // 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even): rounds up.
    expect(f16([1 + 3 * 2 ** -11])).toEqual([0x3c02]);
    // Just above a tie rounds up.
    expect(f16([fromBits(bits(1 + 2 ** -11) + 1)])).toEqual([0x3c01]);
  });

  it('produces and reads subnormals exactly', () => {
    const tiny = 2 ** -24; // smallest float16 subnormal
    expect(f16([tiny, 2 ** -15, tiny / 2, tiny * 0.75])).toEqual([0x0001, 0x0200, 0x0000, 0x0001]);
    expect(Array.from(castFloat16ToFloat32(new Uint16Array([0x0001, 0x03ff, 0x0400])))).toEqual([tiny, 1023 * tiny, 2 ** -14]);
  });

  it('round trips every float16 bit pattern through float32 (NaN stays NaN)', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const wide = castFloat16ToFloat32(all);
    const back = castFloat16ToFloat32(castFloat32ToFloat16(wide));
    for (let i = 0; i < 65536; i++) {
      if (Number.isNaN(wide[i])) expect(Number.isNaN(back[i])).toBe(true);
      else expect(Object.is(back[i], wide[i]), `pattern ${i}`).toBe(true);
    }
  });
});

describe('float32 -> bfloat16', () => {
  it('keeps the top 16 bits of exact values and infinities', () => {
    expect(bf16([1, -2, 0, -0, Infinity, -Infinity])).toEqual([0x3f80, 0xc000, 0, 0x8000, 0x7f80, 0xff80]);
  });

  it('rounds ties to even and keeps NaN a quiet NaN', () => {
    expect(bf16([fromBits(0x3f808000)])).toEqual([0x3f80]); // tie, even stays
    expect(bf16([fromBits(0x3f818000)])).toEqual([0x3f82]); // tie, odd rounds up
    expect(bf16([fromBits(0x3f808001)])).toEqual([0x3f81]);
    const [nan] = bf16([fromBits(0x7f800001)]); // signalling NaN with payload only in low bits
    expect(nan & 0x7f80).toBe(0x7f80);
    expect(nan & 0x007f).not.toBe(0);
  });

  it('widens exactly', () => {
    expect(Array.from(castBfloat16ToFloat32(new Uint16Array([0x3f80, 0x4049, 0x0001])))).toEqual([1, fromBits(0x40490000), fromBits(0x00010000)]);
  });

  it('rejects arrays of the wrong type', () => {
    expect(() => castFloat32ToFloat16(new Float64Array(2) as never)).toThrow(/Float32Array/);
    expect(() => castFloat16ToFloat32(new Float32Array(2) as never)).toThrow(TypeError);
  });
});
