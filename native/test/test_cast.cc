// Specification of the float casts: IEEE round-to-nearest-even, NaN and infinity kept, float16
// subnormals exact, and the batch (possibly F16C) paths bit-identical to the scalar ones.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cast.h"
#include "check.h"

namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t h(float f) { return mc::f32_to_f16_one(f); }
uint16_t b(float f) { return mc::f32_to_bf16_one(f); }

// Batch conversions one value at a time from a buffer large enough for the vector path (the value
// sits in the first group of 8), so the hardware path is the one exercised where there is one.
uint16_t h_batch(float f) {
  std::vector<float> in(16, f);
  std::vector<uint16_t> out(16);
  mc::f32_to_f16(in.data(), out.data(), in.size());
  return out[0];
}
uint32_t f_batch(uint16_t v) {
  std::vector<uint16_t> in(16, v);
  std::vector<float> out(16);
  mc::f16_to_f32(in.data(), out.data(), in.size());
  return bits(out[0]);
}

// Every float in a spread of patterns: all float16 values, midpoints between neighbours and their
// float neighbours (ties and near-ties), plus a pseudo-random sample of all 2^32 bit patterns.
std::vector<float> tricky_floats() {
  std::vector<float> v;
  for (uint32_t x = 0; x < 0x10000; ++x) {
    const float f = mc::f16_to_f32_one(uint16_t(x));
    const float g = mc::f16_to_f32_one(uint16_t(x + 1));
    v.push_back(f);
    if (std::isfinite(f) && std::isfinite(g) && (x & 0x7fff) != 0x7fff) {
      const uint32_t mid = bits((f + g) / 2);  // exact: one extra bit fits in a float
      for (uint32_t d : {mid - 1, mid, mid + 1}) v.push_back(from_bits(d));
    }
  }
  uint64_t s = 12345;
  for (int i = 0; i < 1000000; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    v.push_back(from_bits(uint32_t(s >> 32)));
  }
  for (uint32_t x : {0x7f800001u, 0x7fa00000u, 0x7fbfffffu, 0x7fc00001u, 0xffc12345u, 0x00000001u,
                     0x80000001u, 0x007fffffu, 0x33000000u, 0x33000001u, 0x477fefffu, 0x477ff000u,
                     0x7f7fffffu})
    v.push_back(from_bits(x));
  return v;
}

}  // namespace

// ---- float16 -----------------------------------------------------------------------------------

MC_TEST(cast_f16_keeps_signed_zero_and_exact_values) {
  MC_CHECK_EQ(h(0.0f), uint16_t(0x0000));
  MC_CHECK_EQ(h(-0.0f), uint16_t(0x8000));
  MC_CHECK_EQ(h(1.0f), uint16_t(0x3c00));
  MC_CHECK_EQ(h(-2.0f), uint16_t(0xc000));
  MC_CHECK_EQ(h(65504.0f), uint16_t(0x7bff));
  MC_CHECK_EQ(bits(mc::f16_to_f32_one(0x8000)), 0x80000000u);
  MC_CHECK_EQ(mc::f16_to_f32_one(0x7bff), 65504.0f);
  MC_CHECK_EQ(mc::f16_to_f32_one(0x3555), 0.333251953125f);
}

MC_TEST(cast_f16_overflow_goes_to_infinity) {
  MC_CHECK_EQ(h(65519.996f), uint16_t(0x7bff));  // just below the tie
  MC_CHECK_EQ(h(65520.0f), uint16_t(0x7c00));     // the tie rounds to even: infinity
  MC_CHECK_EQ(h(-65520.0f), uint16_t(0xfc00));
  MC_CHECK_EQ(h(1e10f), uint16_t(0x7c00));
  MC_CHECK_EQ(h(std::numeric_limits<float>::max()), uint16_t(0x7c00));
}

MC_TEST(cast_f16_keeps_infinities) {
  MC_CHECK_EQ(h(INFINITY), uint16_t(0x7c00));
  MC_CHECK_EQ(h(-INFINITY), uint16_t(0xfc00));
  MC_CHECK(std::isinf(mc::f16_to_f32_one(0x7c00)));
  MC_CHECK_EQ(bits(mc::f16_to_f32_one(0xfc00)), 0xff800000u);
}

MC_TEST(cast_f16_nan_stays_a_quiet_nan_with_its_sign) {
  MC_CHECK_EQ(h(from_bits(0x7fc00000)), uint16_t(0x7e00));
  MC_CHECK_EQ(h(from_bits(0xffc00000)), uint16_t(0xfe00));
  MC_CHECK_EQ(h(from_bits(0x7f800001)), uint16_t(0x7e00));  // payload only in dropped bits, signalling
  MC_CHECK_EQ(h(from_bits(0x7fa00000)), uint16_t(0x7f00));  // signalling NaN is quieted, payload kept
  MC_CHECK_EQ(bits(mc::f16_to_f32_one(0x7c01)), 0x7fc02000u);
  MC_CHECK_EQ(bits(mc::f16_to_f32_one(0xfe00)), 0xffc00000u);
  for (uint32_t x = 0x7c01; x <= 0x7fff; ++x) {
    MC_CHECK(std::isnan(mc::f16_to_f32_one(uint16_t(x))));
    MC_CHECK(std::isnan(mc::f16_to_f32_one(uint16_t(x | 0x8000))));
  }
}

MC_TEST(cast_f16_subnormals_are_exact_both_ways) {
  const float smallest = std::ldexp(1.0f, -24);
  MC_CHECK_EQ(h(smallest), uint16_t(0x0001));
  MC_CHECK_EQ(h(-smallest), uint16_t(0x8001));
  MC_CHECK_EQ(mc::f16_to_f32_one(0x0001), smallest);
  MC_CHECK_EQ(mc::f16_to_f32_one(0x03ff), 1023 * smallest);  // largest subnormal
  MC_CHECK_EQ(h(1023 * smallest), uint16_t(0x03ff));
  MC_CHECK_EQ(h(std::ldexp(1.0f, -14)), uint16_t(0x0400));  // smallest normal
  MC_CHECK_EQ(h(std::ldexp(1.0f, -25)), uint16_t(0x0000));  // half of smallest: tie to even 0
  MC_CHECK_EQ(h(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), uint16_t(0x0001));
  MC_CHECK_EQ(h(1.5f * smallest), uint16_t(0x0002));          // tie 1.5 -> 2 (even)
  MC_CHECK_EQ(h(2.5f * smallest), uint16_t(0x0002));          // tie 2.5 -> 2 (even)
  MC_CHECK_EQ(h(1023.5f * smallest), uint16_t(0x0400));       // carries into the smallest normal
  MC_CHECK_EQ(h(from_bits(0x00000001)), uint16_t(0x0000));    // float subnormals vanish
  MC_CHECK_EQ(h(from_bits(0x80000001)), uint16_t(0x8000));
  for (uint32_t x = 0; x < 0x400; ++x) {  // every subnormal survives a round trip
    MC_CHECK_EQ(h(mc::f16_to_f32_one(uint16_t(x))), uint16_t(x));
    MC_CHECK_EQ(mc::f16_to_f32_one(uint16_t(x)), float(x) * smallest);
  }
}

MC_TEST(cast_f16_rounds_ties_to_even_both_ways) {
  // 1 + 2^-11 lies halfway between 1 (even) and 1 + 2^-10 (odd).
  MC_CHECK_EQ(h(1.0f + std::ldexp(1.0f, -11)), uint16_t(0x3c00));
  MC_CHECK_EQ(h(1.0f + 3 * std::ldexp(1.0f, -11)), uint16_t(0x3c02));  // odd -> up to even
  MC_CHECK_EQ(h(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), uint16_t(0x3c01));
  MC_CHECK_EQ(h(std::nextafter(1.0f + 3 * std::ldexp(1.0f, -11), 0.0f)), uint16_t(0x3c01));
  MC_CHECK_EQ(h(-(1.0f + std::ldexp(1.0f, -11))), uint16_t(0xbc00));
  MC_CHECK_EQ(h(2047.0f / 1024.0f + std::ldexp(1.0f, -11)), uint16_t(0x4000));  // carry to exponent
}

MC_TEST(cast_f16_every_value_round_trips) {
  for (uint32_t x = 0; x < 0x10000; ++x) {
    const uint16_t v = uint16_t(x);
    const bool nan = (v & 0x7c00) == 0x7c00 && (v & 0x3ff) != 0;
    if (nan) MC_CHECK_EQ(h(mc::f16_to_f32_one(v)), uint16_t(v | 0x200));
    else MC_CHECK_EQ(h(mc::f16_to_f32_one(v)), v);
  }
}

MC_TEST(cast_f16_batch_paths_are_bit_identical_to_scalar) {
  const std::vector<float> in = tricky_floats();
  std::vector<uint16_t> batch(in.size());
  mc::f32_to_f16(in.data(), batch.data(), in.size());
  size_t mismatches = 0;
  for (size_t i = 0; i < in.size(); ++i) mismatches += batch[i] != h(in[i]);
  MC_CHECK_EQ(mismatches, size_t(0));
  for (float f : {from_bits(0x7fa00000), from_bits(0xff800001), std::ldexp(1.0f, -25), 65520.0f})
    MC_CHECK_EQ(h_batch(f), h(f));

  std::vector<uint16_t> all(0x10000);
  for (uint32_t x = 0; x < 0x10000; ++x) all[x] = uint16_t(x);
  std::vector<float> wide(all.size());
  mc::f16_to_f32(all.data(), wide.data(), all.size());
  mismatches = 0;
  for (uint32_t x = 0; x < 0x10000; ++x)
    mismatches += bits(wide[x]) != bits(mc::f16_to_f32_one(uint16_t(x)));
  MC_CHECK_EQ(mismatches, size_t(0));
  MC_CHECK_EQ(f_batch(0x7c01), bits(mc::f16_to_f32_one(0x7c01)));
}

MC_TEST(cast_f16_batch_handles_lengths_that_are_not_multiples_of_eight) {
  for (size_t n = 0; n <= 19; ++n) {
    std::vector<float> in(n);
    for (size_t i = 0; i < n; ++i) in[i] = float(i) * 0.37f - 2.0f;
    std::vector<uint16_t> out(n + 1, 0xabcd);
    mc::f32_to_f16(in.data(), out.data(), n);
    for (size_t i = 0; i < n; ++i) MC_CHECK_EQ(out[i], h(in[i]));
    MC_CHECK_EQ(out[n], uint16_t(0xabcd));  // nothing written past the end
    std::vector<float> back(n + 1, 7.0f);
    mc::f16_to_f32(out.data(), back.data(), n);
    for (size_t i = 0; i < n; ++i) MC_CHECK_EQ(back[i], mc::f16_to_f32_one(out[i]));
    MC_CHECK_EQ(back[n], 7.0f);
  }
}

// ---- bfloat16 ----------------------------------------------------------------------------------

MC_TEST(cast_bf16_truncates_with_round_to_nearest_even) {
  MC_CHECK_EQ(b(0.0f), uint16_t(0x0000));
  MC_CHECK_EQ(b(-0.0f), uint16_t(0x8000));
  MC_CHECK_EQ(b(1.0f), uint16_t(0x3f80));
  MC_CHECK_EQ(b(from_bits(0x3f808000)), uint16_t(0x3f80));  // tie, even stays
  MC_CHECK_EQ(b(from_bits(0x3f818000)), uint16_t(0x3f82));  // tie, odd rounds up
  MC_CHECK_EQ(b(from_bits(0x3f808001)), uint16_t(0x3f81));  // above the tie
  MC_CHECK_EQ(b(from_bits(0x3f807fff)), uint16_t(0x3f80));  // below the tie
  MC_CHECK_EQ(b(from_bits(0xbf818000)), uint16_t(0xbf82));
  MC_CHECK_EQ(b(from_bits(0x00000001)), uint16_t(0x0000));  // float subnormals round too
  MC_CHECK_EQ(b(from_bits(0x00018000)), uint16_t(0x0002));
}

MC_TEST(cast_bf16_overflow_goes_to_infinity_and_keeps_infinities) {
  MC_CHECK_EQ(b(std::numeric_limits<float>::max()), uint16_t(0x7f80));
  MC_CHECK_EQ(b(-std::numeric_limits<float>::max()), uint16_t(0xff80));
  MC_CHECK_EQ(b(from_bits(0x7f7f7fff)), uint16_t(0x7f7f));
  MC_CHECK_EQ(b(INFINITY), uint16_t(0x7f80));
  MC_CHECK_EQ(b(-INFINITY), uint16_t(0xff80));
  MC_CHECK(std::isinf(mc::bf16_to_f32_one(0x7f80)));
}

MC_TEST(cast_bf16_nan_stays_a_quiet_nan_with_its_sign) {
  MC_CHECK_EQ(b(from_bits(0x7fc00000)), uint16_t(0x7fc0));
  MC_CHECK_EQ(b(from_bits(0x7f800001)), uint16_t(0x7fc0));  // would truncate to Inf without care
  MC_CHECK_EQ(b(from_bits(0xff800001)), uint16_t(0xffc0));
  MC_CHECK_EQ(b(from_bits(0x7fffffff)), uint16_t(0x7fff));  // would wrap to 0 if rounded
  MC_CHECK_EQ(bits(mc::bf16_to_f32_one(0x7f81)), 0x7fc10000u);
  MC_CHECK_EQ(bits(mc::bf16_to_f32_one(0xffc0)), 0xffc00000u);
}

MC_TEST(cast_bf16_every_value_widens_exactly_and_round_trips) {
  for (uint32_t x = 0; x < 0x10000; ++x) {
    const uint16_t v = uint16_t(x);
    const bool nan = (v & 0x7f80) == 0x7f80 && (v & 0x7f) != 0;
    if (!nan) MC_CHECK_EQ(bits(mc::bf16_to_f32_one(v)), uint32_t(v) << 16);
    MC_CHECK_EQ(b(mc::bf16_to_f32_one(v)), nan ? uint16_t(v | 0x40) : v);
  }
}

MC_TEST(cast_bf16_batch_matches_scalar) {
  const std::vector<float> in = tricky_floats();
  std::vector<uint16_t> out(in.size());
  mc::f32_to_bf16(in.data(), out.data(), in.size());
  size_t mismatches = 0;
  for (size_t i = 0; i < in.size(); ++i) mismatches += out[i] != b(in[i]);
  MC_CHECK_EQ(mismatches, size_t(0));
  std::vector<float> back(out.size());
  mc::bf16_to_f32(out.data(), back.data(), out.size());
  mismatches = 0;
  for (size_t i = 0; i < out.size(); ++i) mismatches += bits(back[i]) != bits(mc::bf16_to_f32_one(out[i]));
  MC_CHECK_EQ(mismatches, size_t(0));
}
