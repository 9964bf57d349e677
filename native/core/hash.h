// XXH3 hashing: 128-bit digests for keys (hex), per-row digests for batches, and a chunked
// tree hash for files that is the same whatever the number of threads.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace mc {

struct Digest128 {
  uint8_t bytes[16];  // canonical (big-endian) form, as xxhsum prints it
};

Digest128 xxh3_128(const void* data, size_t len);
uint64_t xxh3_64(const void* data, size_t len);
// XXH3-64 of the concatenation a || b, without building it.
uint64_t xxh3_64_concat(const void* a, size_t la, const void* b, size_t lb);
std::string to_hex(const Digest128& d);

// One 16-byte canonical digest per row; len must be a multiple of row_bytes (row_bytes > 0).
// out must hold 16 * (len / row_bytes) bytes.
void hash_rows(const void* data, size_t len, size_t row_bytes, uint8_t* out);

// Tree hash used for files: the input is cut into kTreeChunk-byte leaves hashed with XXH3-128
// (in parallel); the digest is XXH3-128 over (domain tag, total length, leaf digests...).
// Fixed leaf size => the result never depends on the thread count.
constexpr size_t kTreeChunk = 16u << 20;
using Progress = std::function<void(uint64_t done, uint64_t total)>;
Digest128 tree_hash(const uint8_t* data, size_t len, const Progress& progress = nullptr);

// Tree-hashes a regular file, reading it with pread (never through a map, so a file truncated
// meanwhile is an error, not SIGBUS). Throws Error(kIo) if it cannot be read, or if it changed
// while it was hashed (a short read, or size, mtime, ctime or inode differ at the end).
Digest128 hash_file(const std::string& path, const Progress& progress = nullptr);

}  // namespace mc
