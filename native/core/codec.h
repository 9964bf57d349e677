// The self-describing frame that every stored value is wrapped in: optional byte-shuffle by
// element size, chunked zstd/lz4 compression in parallel, and an XXH3-64 checksum of the raw
// bytes. The decoder validates every length before it touches memory.
//
// Frame layout (little-endian):
//   0  u8[4]  magic "MCF" + format version (1)
//   4  u8     codec      0 none, 1 zstd, 2 lz4
//   5  u8     filter     0 none, 1 byte-shuffle
//   6  u8     element size for the shuffle (1 when filter is none)
//   7  u8     flags (reserved, 0)
//   8  u64    raw length
//   16 u32    chunk size (raw bytes per chunk, last one shorter)
//   20 u32    chunk count = ceil(raw length / chunk size)
//   24 u64    XXH3-64 of the raw bytes
//   32 u32    XXH3-64 (low 32 bits) of bytes 0..31 and the chunk table
//   36 u32[n] chunk table: stored size of each chunk; top bit set = stored uncompressed
//   ..        chunk payloads, in order, exactly filling the rest of the frame
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace mc {

enum class Codec : uint8_t { kNone = 0, kZstd = 1, kLz4 = 2 };

constexpr uint8_t kFrameVersion = 1;
constexpr size_t kFrameHeaderSize = 36;
constexpr uint32_t kDefaultChunkSize = 1u << 20;
constexpr uint32_t kMaxChunkSize = 1u << 30;

struct EncodeOptions {
  Codec codec = Codec::kZstd;
  int level = 0;              // 0 = codec default (zstd 3, lz4 fast 1); lz4 >= 3 uses lz4hc
  uint32_t element_size = 1;  // > 1 turns on the byte-shuffle filter
  uint32_t chunk_size = kDefaultChunkSize;
};

struct FrameInfo {
  Codec codec;
  uint8_t filter;
  uint8_t element_size;
  uint64_t raw_length;
  uint32_t chunk_size;
  uint32_t chunk_count;
  uint64_t checksum;
};

// Encodes data into a new frame. Throws Error(kBadInput) for invalid options.
std::vector<uint8_t> encode(const uint8_t* data, size_t len, const EncodeOptions& opts);

// Validates the header and chunk table (not the payload). Throws Error(kCorrupt).
// max_raw bounds the raw length a caller is willing to allocate.
FrameInfo inspect(const uint8_t* frame, size_t len, uint64_t max_raw = UINT64_MAX);

// Decodes a frame into out (capacity info.raw_length), verifying every chunk size and the
// checksum. Throws Error(kCorrupt) on any inconsistency; never reads or writes out of bounds.
void decode_into(const uint8_t* frame, size_t len, const FrameInfo& info, uint8_t* out);

// inspect + allocate + decode_into.
std::vector<uint8_t> decode(const uint8_t* frame, size_t len, uint64_t max_raw = UINT64_MAX);

// Byte shuffle (as in Blosc): groups byte k of every element together. Bytes past the last
// whole element are copied unchanged.
void shuffle(const uint8_t* in, uint8_t* out, size_t len, size_t element_size);
void unshuffle(const uint8_t* in, uint8_t* out, size_t len, size_t element_size);

}  // namespace mc
