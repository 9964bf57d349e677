// float32 <-> float16 / bfloat16. The scalar conversions are exact integer arithmetic, so results
// never depend on the FPU mode; on x86_64 CPUs with F16C the float16 loops use the hardware
// instructions, which give bit-identical results (the tests compare both on every edge case).
#include "cast.h"

#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define MC_CAST_F16C 1
#endif

namespace mc {
namespace {

inline uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

#ifdef MC_CAST_F16C
__attribute__((target("f16c,avx"))) void f32_to_f16_hw(const float* in, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; i += 8) {
    __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
}
__attribute__((target("f16c,avx"))) void f16_to_f32_hw(const uint16_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
}
// CPUID leaf 1 (ECX: AVX bit 28, F16C bit 29, OSXSAVE bit 27) and XGETBV (the OS saves YMM
// state). Read directly: clang 14 does not know "f16c" in __builtin_cpu_supports.
bool detect_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool avx = (c >> 28) & 1, f16c = (c >> 29) & 1, osxsave = (c >> 27) & 1;
  if (!avx || !f16c || !osxsave) return false;
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 0x6) == 0x6;  // XMM and YMM state enabled
}
// Detected once; the hardware loops take whole groups of 8 and the scalar code the rest.
const bool kHasF16c = detect_f16c();
#endif

}  // namespace

uint16_t f32_to_f16_one(float f) {
  const uint32_t x = bits_of(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000);
  const uint32_t a = x & 0x7fffffff;
  if (a > 0x7f800000) return uint16_t(sign | 0x7e00 | ((a >> 13) & 0x3ff));  // NaN, made quiet
  if (a >= 0x477ff000) return uint16_t(sign | 0x7c00);  // >= 65520 rounds past 65504; Inf
  if (a >= 0x38800000) {                                 // normal float16
    uint32_t r = a - 0x38000000;                         // exponent bias 127 -> 15
    r += 0xfff + ((r >> 13) & 1);                        // round to nearest, ties to even
    return uint16_t(sign | (r >> 13));
  }
  // Below 2^-14: a float16 subnormal q * 2^-24, rounded to nearest even (may carry to 2^-14).
  const uint32_t e = a >> 23;
  if (e < 102) return sign;  // below 2^-25 (float subnormals included): rounds to zero
  const uint32_t m = (a & 0x7fffff) | 0x800000;
  const uint32_t shift = 126 - e;  // 14..24
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) ++q;
  return uint16_t(sign | q);
}

float f16_to_f32_one(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t e = (h >> 10) & 0x1f;
  uint32_t m = h & 0x3ff;
  if (e == 0x1f) return float_of(sign | 0x7f800000 | (m << 13) | (m ? 0x400000 : 0));
  if (e != 0) return float_of(sign | ((e + 112) << 23) | (m << 13));
  if (m == 0) return float_of(sign);
  uint32_t shift = 0;  // subnormal: normalise so the leading 1 lands on bit 10
  while (!(m & 0x400)) {
    m <<= 1;
    ++shift;
  }
  return float_of(sign | ((113 - shift) << 23) | ((m & 0x3ff) << 13));
}

uint16_t f32_to_bf16_one(float f) {
  const uint32_t x = bits_of(f);
  const uint32_t rounded = (x + 0x7fff + ((x >> 16) & 1)) >> 16;  // no wrap: NaNs take the other arm
  const uint32_t nan = (x >> 16) | 0x40;
  return uint16_t((x & 0x7fffffff) > 0x7f800000 ? nan : rounded);
}

float bf16_to_f32_one(uint16_t h) {
  const uint32_t x = uint32_t(h) << 16;
  return float_of((h & 0x7fff) > 0x7f80 ? x | 0x400000 : x);
}

void f32_to_f16(const float* in, uint16_t* out, size_t n) {
  size_t i = 0;
#ifdef MC_CAST_F16C
  if (kHasF16c) {
    i = n & ~size_t(7);
    f32_to_f16_hw(in, out, i);
  }
#endif
  for (; i < n; ++i) out[i] = f32_to_f16_one(in[i]);
}

void f16_to_f32(const uint16_t* in, float* out, size_t n) {
  size_t i = 0;
#ifdef MC_CAST_F16C
  if (kHasF16c) {
    i = n & ~size_t(7);
    f16_to_f32_hw(in, out, i);
  }
#endif
  for (; i < n; ++i) out[i] = f16_to_f32_one(in[i]);
}

void f32_to_bf16(const float* in, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = f32_to_bf16_one(in[i]);
}

void bf16_to_f32(const uint16_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = bf16_to_f32_one(in[i]);
}

}  // namespace mc
