// Fuzz target for the frame decoder: any input must end in success or mc::Error, never a crash,
// an out-of-bounds access or another exception type. A frame that decodes must survive a
// re-encode/decode round trip with the same options, and a bound on the raw length (what a
// caller can hold) must refuse, as corrupt, every frame that claims more.
//
// Most random frames fail the header checksum first, so each input is also tried a second time
// with that checksum recomputed: the chunk table and payload checks are then reached as well.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "codec.h"
#include "error.h"
#include "hash.h"

namespace {

constexpr uint64_t kMaxRaw = 64ull << 20;

uint32_t load_u32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

[[noreturn]] void bug(const char* what, const char* detail = "") {
  std::fprintf(stderr, "fuzz_decompress: %s%s\n", what, detail);
  std::abort();
}

void decode_one(const uint8_t* data, size_t size) {
  mc::FrameInfo info{};
  std::vector<uint8_t> raw;
  try {
    info = mc::inspect(data, size, kMaxRaw);
    if (info.raw_length > kMaxRaw) bug("inspect accepted a raw length above max_raw");
    raw.resize(static_cast<size_t>(info.raw_length));
    mc::decode_into(data, size, info, raw.data());
  } catch (const mc::Error&) {
    return;  // the expected outcome for bad bytes
  }

  // Bounded: exactly the raw length passes, one byte less is corrupt (checked before allocating).
  try {
    mc::inspect(data, size, info.raw_length);
  } catch (const mc::Error& e) {
    bug("inspect with max_raw = raw length threw: ", e.what());
  }
  if (info.raw_length > 0) {
    try {
      mc::inspect(data, size, info.raw_length - 1);
      bug("inspect accepted a raw length above max_raw");
    } catch (const mc::Error& e) {
      if (e.code() != mc::ErrorCode::kCorrupt) bug("a raw length above max_raw is not kCorrupt: ", e.what());
    }
  }

  // Decoded: the whole-buffer decode must agree, and a round trip with the frame's own options
  // must give the same bytes. An mc::Error here means encoder and decoder disagree on validity.
  try {
    if (mc::decode(data, size, kMaxRaw) != raw) bug("decode and inspect+decode_into disagree");
    mc::EncodeOptions opts;
    opts.codec = info.codec;
    opts.element_size = info.filter ? info.element_size : 1;
    opts.chunk_size = info.chunk_size;
    std::vector<uint8_t> frame = mc::encode(raw.data(), raw.size(), opts);
    mc::FrameInfo info2 = mc::inspect(frame.data(), frame.size());
    if (info2.raw_length != info.raw_length || info2.checksum != info.checksum) {
      bug("re-encoded header differs");
    }
    if (mc::decode(frame.data(), frame.size()) != raw) bug("round trip changed the bytes");
  } catch (const mc::Error& e) {
    bug("round trip of a decodable frame threw: ", e.what());
  }
}

}  // namespace

// A small bound taken from the input (what a caller with little memory passes): whatever the
// frame claims, the decoder may never hand back more.
void decode_bounded(const uint8_t* data, size_t size) {
  const uint64_t bound = size == 0 ? 0 : uint64_t(data[size - 1]) * 97;
  try {
    if (mc::decode(data, size, bound).size() > bound) bug("decode returned more than max_raw");
  } catch (const mc::Error&) {
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  decode_one(data, size);
  decode_bounded(data, size);

  // Second pass with a valid header checksum (XXH3-64 low 32 bits of bytes 0..31 + chunk table).
  if (size >= mc::kFrameHeaderSize) {
    uint64_t count = load_u32(data + 20);
    uint64_t table_end = mc::kFrameHeaderSize + 4 * count;
    if (table_end <= size) {
      std::vector<uint8_t> covered(data, data + 32);
      covered.insert(covered.end(), data + mc::kFrameHeaderSize, data + table_end);
      uint32_t sum = static_cast<uint32_t>(mc::xxh3_64(covered.data(), covered.size()));
      if (sum != load_u32(data + 32)) {
        std::vector<uint8_t> fixed(data, data + size);
        for (int i = 0; i < 4; ++i) fixed[32 + i] = static_cast<uint8_t>(sum >> (8 * i));
        decode_one(fixed.data(), fixed.size());
      }
    }
  }
  return 0;
}
