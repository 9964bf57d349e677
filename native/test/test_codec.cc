// Specification of the frame codec: round trips, the documented layout, and that every damaged,
// truncated or inconsistent frame is refused with ERR_CORRUPT rather than decoded wrongly.
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "codec.h"
#include "error.h"
#include "hash.h"

namespace {

using mc::Codec;
using mc::EncodeOptions;
using mc::ErrorCode;
using Bytes = std::vector<uint8_t>;

const Codec kCodecs[] = {Codec::kNone, Codec::kZstd, Codec::kLz4};
const uint32_t kElementSizes[] = {1, 2, 4, 8, 3};

EncodeOptions options(Codec codec, uint32_t element_size = 1, uint32_t chunk_size = mc::kDefaultChunkSize,
                      int level = 0) {
  EncodeOptions o;
  o.codec = codec;
  o.element_size = element_size;
  o.chunk_size = chunk_size;
  o.level = level;
  return o;
}

// Float-like data: compressible, but only after a shuffle brings the exponent bytes together.
Bytes floats_like(size_t n, uint64_t seed = 7) {
  Bytes noise = mc_test::pseudo_random_bytes(n, seed);
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = (i % 4 >= 2) ? uint8_t(0x3f + (i / 64) % 2) : noise[i];
  return out;
}

// Words drawn at random from a small vocabulary: compresses well with any LZ codec.
Bytes text_like(size_t n) {
  static const char* const kWords[] = {"the ", "quick ", "brown ", "fox ", "jumps ", "over ",
                                       "a ", "lazy ", "dog ", "while ", "modelcache ", "stores ",
                                       "tensors ", "on ", "disk ", "fast "};
  Bytes noise = mc_test::pseudo_random_bytes(n, 99);
  Bytes out;
  for (size_t i = 0; out.size() < n; ++i)
    for (const char* w = kWords[noise[i] % 16]; *w && out.size() < n; ++w) out.push_back(uint8_t(*w));
  return out;
}

Bytes encode(const Bytes& data, const EncodeOptions& o) { return mc::encode(data.data(), data.size(), o); }
Bytes decode(const Bytes& frame, uint64_t max_raw = UINT64_MAX) {
  return mc::decode(frame.data(), frame.size(), max_raw);
}

uint32_t get_u32(const Bytes& f, size_t at) {
  return uint32_t(f[at]) | uint32_t(f[at + 1]) << 8 | uint32_t(f[at + 2]) << 16 | uint32_t(f[at + 3]) << 24;
}
uint64_t get_u64(const Bytes& f, size_t at) { return get_u32(f, at) | uint64_t(get_u32(f, at + 4)) << 32; }
void put_u32(Bytes& f, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) f[at + i] = uint8_t(v >> (8 * i));
}
void put_u64(Bytes& f, size_t at, uint64_t v) {
  put_u32(f, at, uint32_t(v));
  put_u32(f, at + 4, uint32_t(v >> 32));
}

// Recomputes the header checksum after a test edits the header or table on purpose, so the edit
// reaches the validation behind the checksum.
void reseal(Bytes& f) {
  const size_t table = 4 * size_t(get_u32(f, 20));
  Bytes hashed(f.begin(), f.begin() + 32);
  hashed.insert(hashed.end(), f.begin() + 36, f.begin() + 36 + table);
  put_u32(f, 32, uint32_t(mc::xxh3_64(hashed.data(), hashed.size())));
}

// Reference shuffle: the definition, byte by byte.
Bytes reference_shuffle(const Bytes& in, size_t es) {
  Bytes out = in;
  const size_t n = in.size() / es;
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < es; ++k) out[k * n + i] = in[i * es + k];
  return out;
}

std::string describe(Codec c, uint32_t es, size_t len) {
  return "codec " + std::to_string(int(c)) + " element_size " + std::to_string(es) + " length " +
         std::to_string(len);
}

}  // namespace

// ---- round trips -------------------------------------------------------------------------------

MC_TEST(codec_round_trips_every_codec_filter_and_size_boundary) {
  const uint32_t chunk = 64;
  for (Codec codec : kCodecs) {
    for (uint32_t es : kElementSizes) {
      const uint32_t effective = es > 1 ? chunk - chunk % es : chunk;
      const size_t sizes[] = {0, 1, effective - 1, effective, effective + 1, 5 * effective + 7};
      for (size_t len : sizes) {
        for (int kind = 0; kind < 2; ++kind) {
          Bytes data = kind == 0 ? floats_like(len) : mc_test::pseudo_random_bytes(len, len + es);
          Bytes frame = encode(data, options(codec, es, chunk));
          Bytes back = decode(frame);
          if (back != data) std::fprintf(stderr, "  failed for %s\n", describe(codec, es, len).c_str());
          MC_CHECK_EQ(back, data);
        }
      }
    }
  }
}

MC_TEST(codec_round_trips_multi_megabyte_inputs_across_threads) {
  Bytes data = floats_like((5u << 20) + 12345);
  for (Codec codec : kCodecs) {
    for (uint32_t es : {1u, 4u}) {
      Bytes frame = encode(data, options(codec, es, 1u << 20));
      MC_CHECK_EQ(mc::inspect(frame.data(), frame.size()).chunk_count, 6u);
      MC_CHECK_EQ(decode(frame), data);
    }
  }
}

MC_TEST(codec_round_trips_at_extreme_levels) {
  Bytes data = text_like(100000);
  const std::pair<Codec, int> cases[] = {{Codec::kZstd, 1},  {Codec::kZstd, 19}, {Codec::kZstd, -5},
                                         {Codec::kLz4, 1},   {Codec::kLz4, 2},   {Codec::kLz4, 3},
                                         {Codec::kLz4, 12}};
  for (auto [codec, level] : cases) {
    Bytes frame = encode(data, options(codec, 1, 16384, level));
    MC_CHECK(frame.size() < data.size() / 2);
    MC_CHECK_EQ(decode(frame), data);
  }
}

MC_TEST(codec_decode_into_fills_a_caller_buffer) {
  Bytes data = text_like(5000);
  Bytes frame = encode(data, options(Codec::kLz4, 1, 1000));
  mc::FrameInfo info = mc::inspect(frame.data(), frame.size());
  Bytes out(size_t(info.raw_length));
  mc::decode_into(frame.data(), frame.size(), info, out.data());
  MC_CHECK_EQ(out, data);
}

// ---- layout ------------------------------------------------------------------------------------

MC_TEST(codec_frame_header_follows_the_documented_layout) {
  Bytes data = floats_like(1000);
  Bytes frame = encode(data, options(Codec::kZstd, 4, 256));
  MC_CHECK_EQ(std::string(frame.begin(), frame.begin() + 3), std::string("MCF"));
  MC_CHECK_EQ(frame[3], uint8_t(1));
  MC_CHECK_EQ(frame[4], uint8_t(1));  // zstd
  MC_CHECK_EQ(frame[5], uint8_t(1));  // byte-shuffle
  MC_CHECK_EQ(frame[6], uint8_t(4));
  MC_CHECK_EQ(frame[7], uint8_t(0));
  MC_CHECK_EQ(get_u64(frame, 8), uint64_t(1000));
  MC_CHECK_EQ(get_u32(frame, 16), 256u);
  MC_CHECK_EQ(get_u32(frame, 20), 4u);
  MC_CHECK_EQ(get_u64(frame, 24), mc::xxh3_64(data.data(), data.size()));
  uint64_t payload = 0;
  for (size_t i = 0; i < 4; ++i) payload += get_u32(frame, 36 + 4 * i) & 0x7fffffffu;
  MC_CHECK_EQ(frame.size(), size_t(36 + 16 + payload));

  mc::FrameInfo info = mc::inspect(frame.data(), frame.size());
  MC_CHECK_EQ(info.codec, Codec::kZstd);
  MC_CHECK_EQ(info.filter, uint8_t(1));
  MC_CHECK_EQ(info.element_size, uint8_t(4));
  MC_CHECK_EQ(info.raw_length, uint64_t(1000));
  MC_CHECK_EQ(info.chunk_size, 256u);
  MC_CHECK_EQ(info.chunk_count, 4u);
  MC_CHECK_EQ(info.checksum, mc::xxh3_64(data.data(), data.size()));
}

MC_TEST(codec_empty_input_is_a_bare_header_with_no_chunks) {
  for (Codec codec : kCodecs) {
    Bytes frame = mc::encode(nullptr, 0, options(codec));
    MC_CHECK_EQ(frame.size(), mc::kFrameHeaderSize);
    MC_CHECK_EQ(get_u32(frame, 20), 0u);
    MC_CHECK_EQ(decode(frame).size(), size_t(0));
  }
}

MC_TEST(codec_no_filter_records_element_size_one) {
  Bytes frame = encode(floats_like(100), options(Codec::kLz4, 1));
  MC_CHECK_EQ(frame[5], uint8_t(0));
  MC_CHECK_EQ(frame[6], uint8_t(1));
}

MC_TEST(codec_chunk_size_is_rounded_down_to_whole_elements) {
  Bytes data = floats_like(1000);
  Bytes f3 = encode(data, options(Codec::kZstd, 3, 64));
  MC_CHECK_EQ(mc::inspect(f3.data(), f3.size()).chunk_size, 63u);
  Bytes f8 = encode(data, options(Codec::kZstd, 8, 5));  // below one element: one element
  MC_CHECK_EQ(mc::inspect(f8.data(), f8.size()).chunk_size, 8u);
  Bytes f1 = encode(data, options(Codec::kZstd, 1, 7));  // no filter: unchanged
  MC_CHECK_EQ(mc::inspect(f1.data(), f1.size()).chunk_size, 7u);
}

MC_TEST(codec_compressible_data_shrinks_and_shuffle_helps_floats) {
  Bytes data = floats_like(1u << 20);
  Bytes plain = encode(data, options(Codec::kZstd, 1));
  Bytes shuffled = encode(data, options(Codec::kZstd, 4));
  MC_CHECK(plain.size() < data.size());
  MC_CHECK(shuffled.size() < plain.size());
}

MC_TEST(codec_incompressible_data_stays_within_header_and_table_overhead) {
  for (Codec codec : kCodecs) {
    for (uint32_t es : kElementSizes) {
      Bytes data = mc_test::pseudo_random_bytes(100000, es);
      const uint32_t chunk = 4096;
      Bytes frame = encode(data, options(codec, es, chunk));
      mc::FrameInfo info = mc::inspect(frame.data(), frame.size());
      MC_CHECK(frame.size() <= data.size() + mc::kFrameHeaderSize + 4 * size_t(info.chunk_count));
      MC_CHECK_EQ(decode(frame), data);
    }
  }
}

MC_TEST(codec_incompressible_chunks_are_flagged_raw) {
  Bytes data = mc_test::pseudo_random_bytes(3000, 5);
  for (Codec codec : {Codec::kZstd, Codec::kLz4}) {
    Bytes frame = encode(data, options(codec, 1, 1000));
    for (size_t i = 0; i < 3; ++i) MC_CHECK_EQ(get_u32(frame, 36 + 4 * i), 0x80000000u | 1000u);
  }
  Bytes none = encode(data, options(Codec::kNone, 1, 1000));  // codec none: sizes without the flag
  for (size_t i = 0; i < 3; ++i) MC_CHECK_EQ(get_u32(none, 36 + 4 * i), 1000u);
  MC_CHECK_EQ(std::memcmp(none.data() + 48, data.data(), data.size()), 0);
}

MC_TEST(codec_none_accepts_chunks_flagged_raw) {
  Bytes data = text_like(300);
  Bytes frame = encode(data, options(Codec::kNone, 1, 100));
  for (size_t i = 0; i < 3; ++i) put_u32(frame, 36 + 4 * i, 0x80000000u | 100u);
  reseal(frame);
  MC_CHECK_EQ(decode(frame), data);
}

// ---- hostile frames ----------------------------------------------------------------------------

// Header and table bytes are covered by the header checksum and raw bytes by the frame checksum,
// so a flip there is always refused. Inside compressed payloads a few bits are dead (an LZ offset
// moved onto identical bytes, entropy-coder padding): such a flip still decodes to the original
// bytes, which is fine. What must never happen is a decode that returns different bytes.
MC_TEST(codec_every_single_byte_flip_is_refused_or_harmless) {
  Bytes data = text_like(1000);
  for (Codec codec : kCodecs) {
    for (uint32_t es : {1u, 4u}) {
      Bytes frame = encode(data, options(codec, es, 256));
      const size_t compressed_from = codec == Codec::kNone ? frame.size() : 36 + 4 * 4;
      size_t harmless = 0;
      for (size_t at = 0; at < frame.size(); ++at) {
        for (uint8_t mask : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xff)}) {
          Bytes bad = frame;
          bad[at] ^= mask;
          if (at < compressed_from) {
            MC_CHECK_THROWS_CODE(decode(bad), ErrorCode::kCorrupt);
            continue;
          }
          try {
            MC_CHECK_EQ(decode(bad), data);
            ++harmless;
          } catch (const mc::Error& e) {
            MC_CHECK_EQ(e.code(), ErrorCode::kCorrupt);
          }
        }
      }
      MC_CHECK(harmless < frame.size() / 20);  // the checks catch nearly every flip
    }
  }
}

MC_TEST(codec_every_truncation_is_refused) {
  Bytes data = text_like(300);
  for (Codec codec : kCodecs) {
    Bytes frame = encode(data, options(codec, 2, 64));
    for (size_t len = 0; len < frame.size(); ++len) {
      Bytes cut(frame.begin(), frame.begin() + len);
      MC_CHECK_THROWS_CODE(mc::inspect(cut.data(), cut.size()), ErrorCode::kCorrupt);
      MC_CHECK_THROWS_CODE(decode(cut), ErrorCode::kCorrupt);
    }
  }
}

MC_TEST(codec_trailing_bytes_are_refused) {
  Bytes frame = encode(text_like(300), options(Codec::kZstd, 1, 64));
  frame.push_back(0);
  MC_CHECK_THROWS_MSG(decode(frame), ErrorCode::kCorrupt, "add up to");
}

MC_TEST(codec_max_raw_bounds_the_raw_length) {
  Bytes data = text_like(1000);
  Bytes frame = encode(data, options(Codec::kZstd));
  MC_CHECK_THROWS_MSG(mc::inspect(frame.data(), frame.size(), 999), ErrorCode::kCorrupt, "exceeds the limit");
  MC_CHECK_THROWS_CODE(decode(frame, 999), ErrorCode::kCorrupt);
  MC_CHECK_EQ(decode(frame, 1000), data);
}

MC_TEST(codec_refuses_a_wrong_magic_version_or_field) {
  Bytes good = encode(text_like(300), options(Codec::kLz4, 1, 100));
  struct Edit {
    size_t at;
    uint8_t value;
    const char* needle;
  };
  const Edit edits[] = {{0, 'X', "magic"},          {3, 2, "version"},        {4, 3, "unknown codec"},
                        {5, 2, "unknown filter"},   {6, 0, "element size 0"}, {6, 4, "without a filter"},
                        {7, 1, "flags"}};
  for (const Edit& e : edits) {
    Bytes bad = good;
    bad[e.at] = e.value;
    reseal(bad);
    MC_CHECK_THROWS_MSG(decode(bad), ErrorCode::kCorrupt, e.needle);
  }
}

MC_TEST(codec_refuses_inconsistent_lengths_behind_a_valid_header_checksum) {
  Bytes data = text_like(3000);
  Bytes good = encode(data, options(Codec::kZstd, 1, 1000));
  {
    Bytes bad = good;
    put_u32(bad, 16, 0);
    reseal(bad);
    MC_CHECK_THROWS_MSG(decode(bad), ErrorCode::kCorrupt, "chunk size 0");
  }
  {
    Bytes bad = good;
    put_u32(bad, 16, mc::kMaxChunkSize + 1);
    reseal(bad);
    MC_CHECK_THROWS_MSG(decode(bad), ErrorCode::kCorrupt, "chunk size");
  }
  {
    Bytes bad = good;
    put_u64(bad, 8, 3001);  // needs a 4th chunk
    reseal(bad);
    MC_CHECK_THROWS_MSG(decode(bad), ErrorCode::kCorrupt, "chunk count");
  }
  {
    Bytes bad = good;
    put_u64(bad, 8, 2999);  // same count, last chunk one byte shorter
    reseal(bad);
    MC_CHECK_THROWS_CODE(decode(bad), ErrorCode::kCorrupt);
  }
  {
    Bytes bad = good;  // a huge count whose table cannot fit
    put_u64(bad, 8, uint64_t(0xffffffffu) * 1000);
    put_u32(bad, 20, 0xffffffffu);
    MC_CHECK_THROWS_MSG(decode(bad), ErrorCode::kCorrupt, "does not fit");
  }
  {
    Bytes bad = good;  // sizes shifted between chunks: same total, wrong split
    put_u32(bad, 36, get_u32(bad, 36) + 1);
    put_u32(bad, 40, get_u32(bad, 40) - 1);
    reseal(bad);
    MC_CHECK_THROWS_CODE(decode(bad), ErrorCode::kCorrupt);
  }
  {
    MC_CHECK_EQ(get_u32(good, 36) >> 31, 0u);  // chunk 0 is compressed
    Bytes bad = good;  // a compressed chunk relabelled raw
    put_u32(bad, 36, get_u32(bad, 36) | 0x80000000u);
    reseal(bad);
    MC_CHECK_THROWS_MSG(decode(bad), ErrorCode::kCorrupt, "stored raw");
  }
  {
    Bytes bad = good;  // sizes that would wrap a 32-bit sum
    put_u32(bad, 36, 0x7fffffffu);
    put_u32(bad, 40, 0x7fffffffu);
    reseal(bad);
    MC_CHECK_THROWS_MSG(decode(bad), ErrorCode::kCorrupt, "exceed");
  }
}

MC_TEST(codec_refuses_a_chunk_whose_content_size_differs) {
  // Splice a valid 500-byte zstd / lz4 chunk where a 1000-byte chunk is expected.
  for (Codec codec : {Codec::kZstd, Codec::kLz4}) {
    Bytes small = encode(text_like(500), options(codec, 1, 1000));
    Bytes big = encode(text_like(1000), options(codec, 1, 1000));
    MC_CHECK_EQ(get_u32(small, 36) >> 31, 0u);
    Bytes spliced = big;
    spliced.resize(40);
    spliced.insert(spliced.end(), small.begin() + 40, small.end());
    put_u32(spliced, 36, get_u32(small, 36));
    reseal(spliced);
    MC_CHECK_THROWS_MSG(decode(spliced), ErrorCode::kCorrupt, "chunk 0");
  }
}

MC_TEST(codec_refuses_an_empty_compressed_chunk) {
  Bytes frame = encode(text_like(1000), options(Codec::kZstd, 1, 1000));
  frame.resize(40);
  put_u32(frame, 36, 0);
  reseal(frame);
  MC_CHECK_THROWS_MSG(decode(frame), ErrorCode::kCorrupt, "empty");
}

MC_TEST(codec_refuses_a_checksum_mismatch) {
  Bytes data = text_like(300);
  Bytes frame = encode(data, options(Codec::kNone, 1, 100));
  frame.back() ^= 1;  // codec none: nothing but the checksum can notice
  MC_CHECK_THROWS_MSG(decode(frame), ErrorCode::kCorrupt, "checksum mismatch");
}

MC_TEST(codec_decode_into_refuses_info_of_another_frame) {
  Bytes a = encode(text_like(300), options(Codec::kZstd));
  Bytes b = encode(text_like(301), options(Codec::kZstd));
  mc::FrameInfo info = mc::inspect(a.data(), a.size());
  Bytes out(1000);
  MC_CHECK_THROWS_CODE(mc::decode_into(b.data(), b.size(), info, out.data()), ErrorCode::kCorrupt);
}

MC_TEST(codec_random_garbage_is_refused) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    Bytes junk = mc_test::pseudo_random_bytes(seed % 120, seed);
    if (junk.size() >= 4) std::memcpy(junk.data(), "MCF\x01", 4);
    MC_CHECK_THROWS_CODE(decode(junk), ErrorCode::kCorrupt);
  }
}

// ---- options -----------------------------------------------------------------------------------

MC_TEST(codec_refuses_bad_options_naming_the_option) {
  Bytes data = text_like(10);
  EncodeOptions o = options(Codec::kZstd);
  o.codec = Codec(3);
  MC_CHECK_THROWS_MSG(encode(data, o), ErrorCode::kBadInput, "codec");
  MC_CHECK_THROWS_MSG(encode(data, options(Codec::kZstd, 0)), ErrorCode::kBadInput, "element_size");
  MC_CHECK_THROWS_MSG(encode(data, options(Codec::kZstd, 256)), ErrorCode::kBadInput, "element_size");
  MC_CHECK_THROWS_MSG(encode(data, options(Codec::kZstd, 1, 0)), ErrorCode::kBadInput, "chunk_size");
  MC_CHECK_THROWS_MSG(encode(data, options(Codec::kZstd, 1, mc::kMaxChunkSize + 1)), ErrorCode::kBadInput,
                      "chunk_size");
  MC_CHECK_THROWS_MSG(encode(data, options(Codec::kZstd, 1, 64, 23)), ErrorCode::kBadInput, "level");
  MC_CHECK_THROWS_MSG(encode(data, options(Codec::kLz4, 1, 64, 13)), ErrorCode::kBadInput, "level");
  MC_CHECK_THROWS_MSG(encode(data, options(Codec::kLz4, 1, 64, -1)), ErrorCode::kBadInput, "level");
  MC_CHECK_THROWS_MSG(encode(data, options(Codec::kNone, 1, 64, 1)), ErrorCode::kBadInput, "level");
  // The largest values accepted.
  MC_CHECK_EQ(decode(encode(data, options(Codec::kZstd, 255, mc::kMaxChunkSize, 22))), data);
}

// ---- shuffle -----------------------------------------------------------------------------------

MC_TEST(shuffle_matches_the_definition_for_every_size_and_tail) {
  for (size_t es = 1; es <= 17; ++es) {
    for (size_t len : {size_t(0), size_t(1), es - 1, es, es + 1, 16 * es - 1, 16 * es, 16 * es + 3,
                       100 * es + es / 2, size_t(4099)}) {
      Bytes in = mc_test::pseudo_random_bytes(len, es * 1000 + len);
      Bytes out(len), back(len);
      mc::shuffle(in.data(), out.data(), len, es);
      MC_CHECK_EQ(out, reference_shuffle(in, es));
      mc::unshuffle(out.data(), back.data(), len, es);
      MC_CHECK_EQ(back, in);
    }
  }
}
