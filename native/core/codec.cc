// The frame codec: chunks are shuffled and compressed independently so both directions run on the
// shared pool. The decoder copies the header and chunk table into locals and checks them all before
// it reads a payload byte, so a hostile frame can only ever produce an Error(kCorrupt).
#include "codec.h"

#include <lz4.h>
#include <lz4hc.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "error.h"
#include "hash.h"
#include "thread_pool.h"

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define MC_CODEC_SSE2 1
#endif

namespace mc {
namespace {

constexpr uint8_t kMagic[3] = {'M', 'C', 'F'};
constexpr uint8_t kFilterNone = 0;
constexpr uint8_t kFilterShuffle = 1;
constexpr uint32_t kStoredRaw = 0x80000000u;
constexpr size_t kHeaderHashedBytes = 32;  // the header checksum covers bytes 0..31 + the table
// Below this many raw bytes a frame is handled on the calling thread: waking the pool costs more.
constexpr size_t kParallelThreshold = 64u << 10;

// Fixed little-endian fields, independent of the host byte order.
inline uint32_t load_u32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline uint64_t load_u64(const uint8_t* p) { return load_u32(p) | uint64_t(load_u32(p + 4)) << 32; }
inline void store_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline void store_u64(uint8_t* p, uint64_t v) {
  store_u32(p, uint32_t(v));
  store_u32(p + 4, uint32_t(v >> 32));
}

[[noreturn]] void corrupt(const std::string& what) {
  throw Error(ErrorCode::kCorrupt, "corrupt frame: " + what);
}
[[noreturn]] void corrupt_chunk(size_t i, const std::string& what) {
  corrupt("chunk " + std::to_string(i) + " " + what);
}
[[noreturn]] void bad_option(const std::string& what) { throw Error(ErrorCode::kBadInput, what); }

const char* codec_name(Codec c) {
  switch (c) {
    case Codec::kNone: return "none";
    case Codec::kZstd: return "zstd";
    case Codec::kLz4: return "lz4";
  }
  return "unknown";
}

// Raw length of chunk i; the last chunk takes the remainder.
inline size_t chunk_raw_size(const FrameInfo& f, size_t i) {
  uint64_t start = uint64_t(i) * f.chunk_size;
  return size_t(std::min<uint64_t>(f.chunk_size, f.raw_length - start));
}

// Low 32 bits of XXH3-64 over header bytes 0..31 followed by the chunk table (bytes 36..).
uint32_t header_checksum(const uint8_t* frame, size_t table_bytes) {
  return uint32_t(xxh3_64_concat(frame, kHeaderHashedBytes, frame + kFrameHeaderSize, table_bytes));
}

// ---- zstd / lz4 per chunk ----------------------------------------------------------------------

// One compression and one decompression context per thread, reused across chunks and frames and
// freed when the thread exits.
struct CctxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DctxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

ZSTD_CCtx* thread_cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CctxFree> ctx;
  if (!ctx) {
    ctx.reset(ZSTD_createCCtx());
    if (!ctx) throw Error(ErrorCode::kNoMemory, "cannot allocate a zstd compression context");
  }
  return ctx.get();
}

ZSTD_DCtx* thread_dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DctxFree> ctx;
  if (!ctx) {
    ctx.reset(ZSTD_createDCtx());
    if (!ctx) throw Error(ErrorCode::kNoMemory, "cannot allocate a zstd decompression context");
  }
  return ctx.get();
}

// Compresses n bytes into dst (capacity n - 1). Returns the compressed size, or 0 when the
// result would not be smaller than the input and the chunk should be stored raw.
size_t compress_chunk(Codec codec, int level, const uint8_t* src, size_t n, uint8_t* dst) {
  const size_t cap = n - 1;
  if (codec == Codec::kZstd) {
    size_t r = ZSTD_compressCCtx(thread_cctx(), dst, cap, src, n, level);
    if (!ZSTD_isError(r)) return r;
    if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
      throw Error(ErrorCode::kNoMemory, "zstd ran out of memory while compressing");
    return 0;  // dstSize_tooSmall (incompressible) and anything else: raw storage is always valid
  }
  // lz4: sizes fit in int because chunk sizes are at most kMaxChunkSize (2^30).
  const char* s = reinterpret_cast<const char*>(src);
  char* d = reinterpret_cast<char*>(dst);
  int r = level >= 3 ? LZ4_compress_HC(s, d, int(n), int(cap), level)
                     : LZ4_compress_fast(s, d, int(n), int(cap), 1);
  return r > 0 ? size_t(r) : 0;
}

void decompress_chunk(Codec codec, size_t i, const uint8_t* src, size_t stored, uint8_t* dst,
                      size_t n) {
  if (codec == Codec::kZstd) {
    unsigned long long content = ZSTD_getFrameContentSize(src, stored);
    if (content == ZSTD_CONTENTSIZE_ERROR) corrupt_chunk(i, "is not a valid zstd frame");
    if (content == ZSTD_CONTENTSIZE_UNKNOWN)
      corrupt_chunk(i, "is a zstd frame that does not record its content size");
    if (content != n)
      corrupt_chunk(i, "is a zstd frame of " + std::to_string(content) + " bytes, expected " +
                           std::to_string(n));
    size_t frame_size = ZSTD_findFrameCompressedSize(src, stored);
    if (ZSTD_isError(frame_size))
      corrupt_chunk(i, std::string("is a malformed zstd frame: ") + ZSTD_getErrorName(frame_size));
    if (frame_size != stored)
      corrupt_chunk(i, "holds a zstd frame of " + std::to_string(frame_size) +
                           " bytes but the chunk table says " + std::to_string(stored));
    size_t r = ZSTD_decompressDCtx(thread_dctx(), dst, n, src, stored);
    if (ZSTD_isError(r))
      corrupt_chunk(i, std::string("fails to decompress: ") + ZSTD_getErrorName(r));
    if (r != n)
      corrupt_chunk(i, "decompresses to " + std::to_string(r) + " bytes, expected " +
                           std::to_string(n));
    return;
  }
  // stored < 2^31 (top bit is the raw flag) and n <= 2^30, so both fit in int.
  int r = LZ4_decompress_safe(reinterpret_cast<const char*>(src), reinterpret_cast<char*>(dst),
                              int(stored), int(n));
  if (r < 0) corrupt_chunk(i, "is malformed lz4 data");
  if (size_t(r) != n)
    corrupt_chunk(i, "decompresses to " + std::to_string(r) + " bytes, expected " +
                         std::to_string(n));
}

// ---- frame header ------------------------------------------------------------------------------

// Validates everything but the payload bytes. When table is given it receives the chunk table as
// read here, so the decoder never reads the (possibly shared, mutable) table twice.
FrameInfo parse(const uint8_t* frame, size_t len, uint64_t max_raw, std::vector<uint32_t>* table) {
  if (frame == nullptr && len != 0) throw Error(ErrorCode::kBadInput, "frame pointer is null");
  if (len < kFrameHeaderSize)
    corrupt(std::to_string(len) + " bytes is shorter than the " +
            std::to_string(kFrameHeaderSize) + "-byte header");
  if (std::memcmp(frame, kMagic, sizeof kMagic) != 0) corrupt("bad magic, not a modelcache frame");
  if (frame[3] != kFrameVersion)
    corrupt("unsupported format version " + std::to_string(frame[3]) + " (expected " +
            std::to_string(kFrameVersion) + ")");
  if (frame[4] > uint8_t(Codec::kLz4)) corrupt("unknown codec " + std::to_string(frame[4]));
  if (frame[5] > kFilterShuffle) corrupt("unknown filter " + std::to_string(frame[5]));
  if (frame[6] == 0) corrupt("element size 0");
  if (frame[5] == kFilterNone && frame[6] != 1)
    corrupt("element size " + std::to_string(frame[6]) + " without a filter (expected 1)");
  if (frame[7] != 0) corrupt("unknown flags " + std::to_string(frame[7]));

  FrameInfo info;
  info.codec = Codec(frame[4]);
  info.filter = frame[5];
  info.element_size = frame[6];
  info.raw_length = load_u64(frame + 8);
  info.chunk_size = load_u32(frame + 16);
  info.chunk_count = load_u32(frame + 20);
  info.checksum = load_u64(frame + 24);

  if (info.chunk_size == 0 || info.chunk_size > kMaxChunkSize)
    corrupt("chunk size " + std::to_string(info.chunk_size) + " outside 1.." +
            std::to_string(kMaxChunkSize));
  const uint64_t expected_count =
      info.raw_length / info.chunk_size + (info.raw_length % info.chunk_size != 0);
  if (info.chunk_count != expected_count)
    corrupt("chunk count " + std::to_string(info.chunk_count) + " does not match raw length " +
            std::to_string(info.raw_length) + " in chunks of " + std::to_string(info.chunk_size));
  if (info.raw_length > max_raw)
    corrupt("raw length " + std::to_string(info.raw_length) + " exceeds the limit of " +
            std::to_string(max_raw) + " bytes");
  if (info.raw_length > std::numeric_limits<size_t>::max())
    corrupt("raw length " + std::to_string(info.raw_length) + " does not fit in memory");

  const uint64_t avail = len - kFrameHeaderSize;
  const uint64_t table_bytes = uint64_t(info.chunk_count) * 4;  // < 2^34, no overflow
  if (table_bytes > avail)
    corrupt("chunk table of " + std::to_string(info.chunk_count) + " entries does not fit in " +
            std::to_string(len) + " bytes");
  if (header_checksum(frame, size_t(table_bytes)) != load_u32(frame + kHeaderHashedBytes))
    corrupt("header checksum mismatch");

  const uint64_t payload = avail - table_bytes;
  const uint8_t* entries = frame + kFrameHeaderSize;
  if (table) table->resize(info.chunk_count);
  uint64_t sum = 0;
  for (size_t i = 0; i < info.chunk_count; ++i) {
    const uint32_t e = load_u32(entries + 4 * i);
    const uint64_t stored = e & ~kStoredRaw;
    const size_t expected = chunk_raw_size(info, i);
    if ((e & kStoredRaw) || info.codec == Codec::kNone) {
      if (stored != expected)
        corrupt_chunk(i, "is stored raw with " + std::to_string(stored) + " bytes, expected " +
                             std::to_string(expected));
    } else if (stored == 0) {
      corrupt_chunk(i, "has an empty compressed payload");
    }
    if (stored > payload - sum)  // sum <= payload holds here, so this cannot wrap
      corrupt("chunk sizes exceed the " + std::to_string(payload) + "-byte payload at chunk " +
              std::to_string(i));
    sum += stored;
    if (table) (*table)[i] = e;
  }
  if (sum != payload)
    corrupt("chunk sizes add up to " + std::to_string(sum) + " bytes but the payload has " +
            std::to_string(payload));
  return info;
}

// ---- shuffle -----------------------------------------------------------------------------------

// out[k * n + i] = in[i * ES + k] for the n whole elements from `from` on.
template <size_t ES>
void shuffle_tail(const uint8_t* in, uint8_t* out, size_t n, size_t from) {
  for (size_t i = from; i < n; ++i)
    for (size_t k = 0; k < ES; ++k) out[k * n + i] = in[i * ES + k];
}
template <size_t ES>
void unshuffle_tail(const uint8_t* in, uint8_t* out, size_t n, size_t from) {
  for (size_t i = from; i < n; ++i)
    for (size_t k = 0; k < ES; ++k) out[i * ES + k] = in[k * n + i];
}

// Other element sizes: with the size known at compile time the inner loop unrolls; 3..16 covers
// the odd record and struct sizes seen in practice, anything larger takes the variable loop.
template <size_t ES>
void shuffle_fixed(const uint8_t* in, uint8_t* out, size_t n) { shuffle_tail<ES>(in, out, n, 0); }
template <size_t ES>
void unshuffle_fixed(const uint8_t* in, uint8_t* out, size_t n) { unshuffle_tail<ES>(in, out, n, 0); }

using Transpose = void (*)(const uint8_t*, uint8_t*, size_t);
template <size_t... ES>
constexpr std::array<Transpose, sizeof...(ES)> shuffle_table(std::index_sequence<ES...>) {
  return {&shuffle_fixed<ES + 1>...};
}
template <size_t... ES>
constexpr std::array<Transpose, sizeof...(ES)> unshuffle_table(std::index_sequence<ES...>) {
  return {&unshuffle_fixed<ES + 1>...};
}
constexpr auto kShuffleFixed = shuffle_table(std::make_index_sequence<16>());      // sizes 1..16
constexpr auto kUnshuffleFixed = unshuffle_table(std::make_index_sequence<16>());

void shuffle_generic(const uint8_t* in, uint8_t* out, size_t n, size_t es) {
  if (es <= kShuffleFixed.size()) return kShuffleFixed[es - 1](in, out, n);
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < es; ++k) out[k * n + i] = in[i * es + k];
}
void unshuffle_generic(const uint8_t* in, uint8_t* out, size_t n, size_t es) {
  if (es <= kUnshuffleFixed.size()) return kUnshuffleFixed[es - 1](in, out, n);
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < es; ++k) out[i * es + k] = in[k * n + i];
}

#ifdef MC_CODEC_SSE2
// Sizes 2, 4 and 8 are transposes of 16 elements at a time built from one step: split two vectors
// into their even and odd bytes (and its inverse, interleave). log2(size) steps make the transpose.
inline __m128i load(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline void store(uint8_t* p, __m128i v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }

inline void split(__m128i a, __m128i b, __m128i& even, __m128i& odd) {
  const __m128i low = _mm_set1_epi16(0x00ff);
  even = _mm_packus_epi16(_mm_and_si128(a, low), _mm_and_si128(b, low));
  odd = _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8));
}
inline void join(__m128i even, __m128i odd, __m128i& a, __m128i& b) {
  a = _mm_unpacklo_epi8(even, odd);
  b = _mm_unpackhi_epi8(even, odd);
}

void shuffle2(const uint8_t* in, uint8_t* out, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i s0, s1;
    split(load(in + 2 * i), load(in + 2 * i + 16), s0, s1);
    store(out + i, s0);
    store(out + n + i, s1);
  }
  shuffle_tail<2>(in, out, n, i);
}
void unshuffle2(const uint8_t* in, uint8_t* out, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i v0, v1;
    join(load(in + i), load(in + n + i), v0, v1);
    store(out + 2 * i, v0);
    store(out + 2 * i + 16, v1);
  }
  unshuffle_tail<2>(in, out, n, i);
}

void shuffle4(const uint8_t* in, uint8_t* out, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const uint8_t* p = in + 4 * i;
    __m128i e0, o0, e1, o1, s0, s1, s2, s3;
    split(load(p), load(p + 16), e0, o0);       // bytes 0,2 | 1,3 of elements 0..7
    split(load(p + 32), load(p + 48), e1, o1);  // ... of elements 8..15
    split(e0, e1, s0, s2);
    split(o0, o1, s1, s3);
    store(out + i, s0);
    store(out + n + i, s1);
    store(out + 2 * n + i, s2);
    store(out + 3 * n + i, s3);
  }
  shuffle_tail<4>(in, out, n, i);
}
void unshuffle4(const uint8_t* in, uint8_t* out, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i e0, o0, e1, o1, v0, v1, v2, v3;
    join(load(in + i), load(in + 2 * n + i), e0, e1);
    join(load(in + n + i), load(in + 3 * n + i), o0, o1);
    join(e0, o0, v0, v1);
    join(e1, o1, v2, v3);
    uint8_t* p = out + 4 * i;
    store(p, v0);
    store(p + 16, v1);
    store(p + 32, v2);
    store(p + 48, v3);
  }
  unshuffle_tail<4>(in, out, n, i);
}

void shuffle8(const uint8_t* in, uint8_t* out, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const uint8_t* p = in + 8 * i;
    __m128i a[4], b[4], c[2], d[2], e[2], f[2], s[8];
    for (int k = 0; k < 4; ++k) split(load(p + 32 * k), load(p + 32 * k + 16), a[k], b[k]);
    split(a[0], a[1], c[0], d[0]);  // bytes 0,4 | 2,6 of elements 0..7
    split(a[2], a[3], c[1], d[1]);  // ... of elements 8..15
    split(b[0], b[1], e[0], f[0]);  // bytes 1,5 | 3,7
    split(b[2], b[3], e[1], f[1]);
    split(c[0], c[1], s[0], s[4]);
    split(d[0], d[1], s[2], s[6]);
    split(e[0], e[1], s[1], s[5]);
    split(f[0], f[1], s[3], s[7]);
    for (int k = 0; k < 8; ++k) store(out + k * n + i, s[k]);
  }
  shuffle_tail<8>(in, out, n, i);
}
void unshuffle8(const uint8_t* in, uint8_t* out, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m128i s[8], a[4], b[4], c[2], d[2], e[2], f[2];
    for (int k = 0; k < 8; ++k) s[k] = load(in + k * n + i);
    join(s[0], s[4], c[0], c[1]);
    join(s[2], s[6], d[0], d[1]);
    join(s[1], s[5], e[0], e[1]);
    join(s[3], s[7], f[0], f[1]);
    join(c[0], d[0], a[0], a[1]);
    join(c[1], d[1], a[2], a[3]);
    join(e[0], f[0], b[0], b[1]);
    join(e[1], f[1], b[2], b[3]);
    uint8_t* p = out + 8 * i;
    for (int k = 0; k < 4; ++k) join(a[k], b[k], s[2 * k], s[2 * k + 1]);
    for (int k = 0; k < 8; ++k) store(p + 16 * k, s[k]);
  }
  unshuffle_tail<8>(in, out, n, i);
}
#else
void shuffle2(const uint8_t* in, uint8_t* out, size_t n) { shuffle_tail<2>(in, out, n, 0); }
void shuffle4(const uint8_t* in, uint8_t* out, size_t n) { shuffle_tail<4>(in, out, n, 0); }
void shuffle8(const uint8_t* in, uint8_t* out, size_t n) { shuffle_tail<8>(in, out, n, 0); }
void unshuffle2(const uint8_t* in, uint8_t* out, size_t n) { unshuffle_tail<2>(in, out, n, 0); }
void unshuffle4(const uint8_t* in, uint8_t* out, size_t n) { unshuffle_tail<4>(in, out, n, 0); }
void unshuffle8(const uint8_t* in, uint8_t* out, size_t n) { unshuffle_tail<8>(in, out, n, 0); }
#endif

// Raw storage of a chunk: the filter is still applied, only compression is skipped.
inline void store_raw(const FrameInfo& f, const uint8_t* src, uint8_t* dst, size_t n) {
  if (f.filter == kFilterShuffle) shuffle(src, dst, n, f.element_size);
  else std::memcpy(dst, src, n);
}
inline void load_raw(const FrameInfo& f, const uint8_t* src, uint8_t* dst, size_t n) {
  if (f.filter == kFilterShuffle) unshuffle(src, dst, n, f.element_size);
  else std::memcpy(dst, src, n);
}

// ---- encode ------------------------------------------------------------------------------------

void check_level(Codec codec, int level) {
  int lo = 0, hi = 0;
  if (codec == Codec::kZstd) {
    lo = ZSTD_minCLevel();
    hi = ZSTD_maxCLevel();
  } else if (codec == Codec::kLz4) {
    hi = LZ4HC_CLEVEL_MAX;
  }
  if (level < lo || level > hi)
    bad_option("Expected level between " + std::to_string(lo) + " and " + std::to_string(hi) +
               " for codec " + codec_name(codec) + " but received " + std::to_string(level));
}

// Validates the options and fills in the frame description for len input bytes.
FrameInfo plan(size_t len, const EncodeOptions& opts, int* level) {
  if (opts.codec != Codec::kNone && opts.codec != Codec::kZstd && opts.codec != Codec::kLz4)
    bad_option("Expected codec 0 (none), 1 (zstd) or 2 (lz4) but received " +
               std::to_string(int(opts.codec)));
  if (opts.element_size < 1 || opts.element_size > 255)
    bad_option("Expected element_size between 1 and 255 but received " +
               std::to_string(opts.element_size));
  if (opts.chunk_size < 1 || opts.chunk_size > kMaxChunkSize)
    bad_option("Expected chunk_size between 1 and " + std::to_string(kMaxChunkSize) +
               " but received " + std::to_string(opts.chunk_size));
  check_level(opts.codec, opts.level);
  *level = opts.level;
  if (opts.codec == Codec::kZstd && opts.level == 0) *level = ZSTD_CLEVEL_DEFAULT;

  FrameInfo f;
  f.codec = opts.codec;
  f.filter = opts.element_size > 1 ? kFilterShuffle : kFilterNone;
  f.element_size = uint8_t(opts.element_size);
  // Shuffled chunks hold whole elements so every chunk transposes the same way.
  f.chunk_size = opts.chunk_size;
  if (f.filter == kFilterShuffle)
    f.chunk_size = std::max(opts.chunk_size - opts.chunk_size % opts.element_size, opts.element_size);
  f.raw_length = len;
  const uint64_t count = uint64_t(len) / f.chunk_size + (uint64_t(len) % f.chunk_size != 0);
  if (count > std::numeric_limits<uint32_t>::max())
    bad_option("Expected chunk_size large enough for at most 4294967295 chunks but received " +
               std::to_string(opts.chunk_size) + " for " + std::to_string(len) + " bytes");
  f.chunk_count = uint32_t(count);
  f.checksum = 0;
  return f;
}

// A compressed chunk, or an empty buf when the chunk is stored raw.
struct EncodedChunk {
  std::unique_ptr<uint8_t[]> buf;
  size_t size = 0;
};

std::vector<uint8_t> encode_frame(const uint8_t* data, size_t len, const EncodeOptions& opts) {
  int level = 0;
  FrameInfo f = plan(len, opts, &level);
  if (data == nullptr && len != 0) throw Error(ErrorCode::kBadInput, "data pointer is null");
  const size_t count = f.chunk_count;
  const size_t threads = len >= kParallelThreshold ? 0 : 1;

  // Pass 1: compress each chunk into its own buffer. Buffers are allocated at the raw size but
  // left uninitialised, so only the pages the compressor writes are ever touched.
  std::vector<EncodedChunk> chunks(count);
  if (f.codec != Codec::kNone) {
    parallel_for(
        count,
        [&](size_t i) {
          const size_t n = chunk_raw_size(f, i);
          const uint8_t* src = data + i * size_t(f.chunk_size);
          std::unique_ptr<uint8_t[]> shuffled;
          if (f.filter == kFilterShuffle) {
            shuffled.reset(new uint8_t[n]);
            shuffle(src, shuffled.get(), n, f.element_size);
            src = shuffled.get();
          }
          std::unique_ptr<uint8_t[]> dst(new uint8_t[n]);
          size_t c = compress_chunk(f.codec, level, src, n, dst.get());
          if (c > 0) {
            chunks[i].buf = std::move(dst);
            chunks[i].size = c;
          }
        },
        threads);
  }

  // Pass 2: lay out header, table and payloads; raw chunks are filtered straight into place.
  std::vector<uint64_t> offsets(count);
  uint64_t total = kFrameHeaderSize + 4 * uint64_t(count);
  for (size_t i = 0; i < count; ++i) {
    offsets[i] = total;
    total += chunks[i].buf ? chunks[i].size : chunk_raw_size(f, i);
  }
  std::vector<uint8_t> out(total);
  uint8_t* o = out.data();
  std::memcpy(o, kMagic, sizeof kMagic);
  o[3] = kFrameVersion;
  o[4] = uint8_t(f.codec);
  o[5] = f.filter;
  o[6] = f.element_size;
  o[7] = 0;
  store_u64(o + 8, f.raw_length);
  store_u32(o + 16, f.chunk_size);
  store_u32(o + 20, f.chunk_count);
  for (size_t i = 0; i < count; ++i) {
    const bool raw = !chunks[i].buf;
    uint32_t entry = uint32_t(raw ? chunk_raw_size(f, i) : chunks[i].size);
    if (raw && f.codec != Codec::kNone) entry |= kStoredRaw;
    store_u32(o + kFrameHeaderSize + 4 * i, entry);
  }
  // Index 0 hashes the input while the others place chunks.
  uint64_t checksum = 0;
  parallel_for(
      count + 1,
      [&](size_t j) {
        if (j == 0) {
          checksum = xxh3_64(data, len);
          return;
        }
        const size_t i = j - 1;
        if (chunks[i].buf) {
          std::memcpy(o + offsets[i], chunks[i].buf.get(), chunks[i].size);
          chunks[i].buf.reset();
        } else {
          store_raw(f, data + i * size_t(f.chunk_size), o + offsets[i], chunk_raw_size(f, i));
        }
      },
      threads);
  store_u64(o + 24, checksum);
  store_u32(o + kHeaderHashedBytes, header_checksum(o, 4 * count));
  return out;
}

void decode_frame(const uint8_t* frame, size_t len, const FrameInfo& expected, uint8_t* out) {
  std::vector<uint32_t> table;
  const FrameInfo f = parse(frame, len, UINT64_MAX, &table);
  if (f.codec != expected.codec || f.filter != expected.filter ||
      f.element_size != expected.element_size || f.raw_length != expected.raw_length ||
      f.chunk_size != expected.chunk_size || f.chunk_count != expected.chunk_count ||
      f.checksum != expected.checksum)
    corrupt("header differs from the FrameInfo it was inspected with");
  if (out == nullptr && f.raw_length != 0) throw Error(ErrorCode::kBadInput, "output pointer is null");

  const size_t count = f.chunk_count;
  std::vector<size_t> offsets(count);
  size_t pos = kFrameHeaderSize + 4 * count;  // parse() proved all of this lies within len
  for (size_t i = 0; i < count; ++i) {
    offsets[i] = pos;
    pos += table[i] & ~kStoredRaw;
  }
  parallel_for(
      count,
      [&](size_t i) {
        const size_t n = chunk_raw_size(f, i);
        const size_t stored = table[i] & ~kStoredRaw;
        const uint8_t* src = frame + offsets[i];
        uint8_t* dst = out + i * size_t(f.chunk_size);
        if ((table[i] & kStoredRaw) || f.codec == Codec::kNone) {
          load_raw(f, src, dst, n);
        } else if (f.filter == kFilterShuffle) {
          std::unique_ptr<uint8_t[]> tmp(new uint8_t[n]);
          decompress_chunk(f.codec, i, src, stored, tmp.get(), n);
          unshuffle(tmp.get(), dst, n, f.element_size);
        } else {
          decompress_chunk(f.codec, i, src, stored, dst, n);
        }
      },
      f.raw_length >= kParallelThreshold ? 0 : 1);
  if (xxh3_64(out, size_t(f.raw_length)) != f.checksum)
    corrupt("checksum mismatch, the decoded bytes differ from those encoded");
}

}  // namespace

// ---- public API --------------------------------------------------------------------------------

void shuffle(const uint8_t* in, uint8_t* out, size_t len, size_t element_size) {
  if (element_size <= 1 || len < element_size) {
    if (len) std::memcpy(out, in, len);
    return;
  }
  const size_t n = len / element_size;
  switch (element_size) {
    case 2: shuffle2(in, out, n); break;
    case 4: shuffle4(in, out, n); break;
    case 8: shuffle8(in, out, n); break;
    default: shuffle_generic(in, out, n, element_size);
  }
  const size_t whole = n * element_size;
  if (whole < len) std::memcpy(out + whole, in + whole, len - whole);
}

void unshuffle(const uint8_t* in, uint8_t* out, size_t len, size_t element_size) {
  if (element_size <= 1 || len < element_size) {
    if (len) std::memcpy(out, in, len);
    return;
  }
  const size_t n = len / element_size;
  switch (element_size) {
    case 2: unshuffle2(in, out, n); break;
    case 4: unshuffle4(in, out, n); break;
    case 8: unshuffle8(in, out, n); break;
    default: unshuffle_generic(in, out, n, element_size);
  }
  const size_t whole = n * element_size;
  if (whole < len) std::memcpy(out + whole, in + whole, len - whole);
}

std::vector<uint8_t> encode(const uint8_t* data, size_t len, const EncodeOptions& opts) {
  try {
    return encode_frame(data, len, opts);
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kNoMemory, "out of memory encoding " + std::to_string(len) + " bytes");
  } catch (const std::length_error&) {
    throw Error(ErrorCode::kNoMemory, "out of memory encoding " + std::to_string(len) + " bytes");
  }
}

FrameInfo inspect(const uint8_t* frame, size_t len, uint64_t max_raw) {
  try {
    return parse(frame, len, max_raw, nullptr);
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kNoMemory, "out of memory reading a frame header");
  }
}

void decode_into(const uint8_t* frame, size_t len, const FrameInfo& info, uint8_t* out) {
  try {
    decode_frame(frame, len, info, out);
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kNoMemory, "out of memory decoding a frame");
  }
}

std::vector<uint8_t> decode(const uint8_t* frame, size_t len, uint64_t max_raw) {
  const FrameInfo info = inspect(frame, len, max_raw);
  std::vector<uint8_t> out;
  try {
    out.resize(size_t(info.raw_length));
  } catch (const std::exception&) {  // bad_alloc or length_error
    throw Error(ErrorCode::kNoMemory,
                "out of memory allocating " + std::to_string(info.raw_length) + " bytes");
  }
  decode_into(frame, len, info, out.data());
  return out;
}

}  // namespace mc
