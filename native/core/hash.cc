// XXH3 through xxHash's header-only build. Row hashing and the file tree hash are the hot paths
// of batch memoization and model keys, so both avoid allocation per row or per leaf.
#define XXH_INLINE_ALL
#define XXH_STATIC_LINKING_ONLY
#include <xxHash/xxhash.h>
#ifdef MODELCACHE_XXH_DISPATCH
// xxh_x86dispatch.c (built as its own C library) exports these with C linkage. Declared here by
// hand: under XXH_INLINE_ALL its header would declare them static.
extern "C" {
struct McXxh128 {
  unsigned long long low64;
  unsigned long long high64;
};
unsigned long long XXH3_64bits_dispatch(const void* input, size_t len);
McXxh128 XXH3_128bits_dispatch(const void* input, size_t len);
}
#endif

#include "hash.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "error.h"
#include "mmap.h"
#include "thread_pool.h"

namespace mc {
namespace {

constexpr char kTreeTag[] = "modelcache-tree-v1";

inline Digest128 canonical(XXH128_hash_t h) {
  Digest128 d;
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  std::memcpy(d.bytes, c.digest, 16);
  return d;
}

}  // namespace

// With the dispatcher the widest vector unit of this CPU is used; the digests are the same.
#ifdef MODELCACHE_XXH_DISPATCH
Digest128 xxh3_128(const void* data, size_t len) {
  const McXxh128 h = XXH3_128bits_dispatch(data, len);
  return canonical(XXH128_hash_t{h.low64, h.high64});
}
uint64_t xxh3_64(const void* data, size_t len) { return XXH3_64bits_dispatch(data, len); }
#else
Digest128 xxh3_128(const void* data, size_t len) { return canonical(XXH3_128bits(data, len)); }
uint64_t xxh3_64(const void* data, size_t len) { return XXH3_64bits(data, len); }
#endif

uint64_t xxh3_64_concat(const void* a, size_t la, const void* b, size_t lb) {
  XXH3_state_t state;
  XXH3_INITSTATE(&state);
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, a, la);
  XXH3_64bits_update(&state, b, lb);
  return XXH3_64bits_digest(&state);
}

std::string to_hex(const Digest128& d) {
  static const char kHex[] = "0123456789abcdef";
  std::string s(32, '0');
  for (int i = 0; i < 16; ++i) {
    s[2 * i] = kHex[d.bytes[i] >> 4];
    s[2 * i + 1] = kHex[d.bytes[i] & 15];
  }
  return s;
}

void hash_rows(const void* data, size_t len, size_t row_bytes, uint8_t* out) {
  if (row_bytes == 0) throw Error(ErrorCode::kBadInput, "rowBytes must be a positive integer");
  if (len % row_bytes != 0)
    throw Error(ErrorCode::kBadInput, "data length must be a multiple of rowBytes");
  const size_t rows = len / row_bytes;
  const auto* p = static_cast<const uint8_t*>(data);
  auto one = [&](size_t r) {
    Digest128 d = xxh3_128(p + r * row_bytes, row_bytes);
    std::memcpy(out + 16 * r, d.bytes, 16);
  };
  // Rows are usually small (a few KiB); only spread big batches over the pool.
  if (len >= (8u << 20) && rows > 1) {
    const size_t per_task = (1u << 20) / row_bytes + 1;
    const size_t tasks = (rows + per_task - 1) / per_task;
    parallel_for(tasks, [&](size_t t) {
      size_t end = std::min(rows, (t + 1) * per_task);
      for (size_t r = t * per_task; r < end; ++r) one(r);
    });
  } else {
    for (size_t r = 0; r < rows; ++r) one(r);
  }
}

Digest128 tree_hash(const uint8_t* data, size_t len, const Progress& progress) {
  const size_t leaves = (len + kTreeChunk - 1) / kTreeChunk;
  // tag || u64 length || leaf digests
  std::vector<uint8_t> top(sizeof(kTreeTag) - 1 + 8 + 16 * leaves);
  std::memcpy(top.data(), kTreeTag, sizeof(kTreeTag) - 1);
  uint64_t n = len;
  for (int i = 0; i < 8; ++i) top[sizeof(kTreeTag) - 1 + i] = static_cast<uint8_t>(n >> (8 * i));
  uint8_t* digests = top.data() + sizeof(kTreeTag) - 1 + 8;

  std::atomic<uint64_t> done{0};
  parallel_for(leaves, [&](size_t i) {
    const size_t off = i * kTreeChunk;
    const size_t sz = std::min(kTreeChunk, len - off);
    Digest128 d = xxh3_128(data + off, sz);
    std::memcpy(digests + 16 * i, d.bytes, 16);
    uint64_t now = done.fetch_add(sz) + sz;
    if (progress) progress(now, len);
  });
  if (leaves == 0 && progress) progress(0, 0);
  return xxh3_128(top.data(), top.size());
}

Digest128 hash_file(const std::string& path, const Progress& progress) {
  MappedFile file(path);
  if (file.size() >= 2 * kTreeChunk) file.advise_sequential();
  return tree_hash(file.data(), file.size(), progress);
}

}  // namespace mc
