// Hashing: XXH3-128 known answers, per-row digests and the file tree hash, each checked against
// xxHash itself (header-only here) rather than against hash.cc's own output.
#include "hash.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#define XXH_INLINE_ALL
#include <xxHash/xxhash.h>  // lz4 ships an older xxhash.h that must not shadow it

#include "check.h"

namespace {

std::string ref_xxh3_128_hex(const void* p, size_t n) {
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, XXH3_128bits(p, n));
  return mc_test::hex(c.digest, 16);
}

// The documented tree layout: XXH3-128 over "modelcache-tree-v1", the total length as u64
// little-endian, then the canonical digest of each kTreeChunk-byte leaf in order.
std::string ref_tree_hex(const uint8_t* p, size_t n) {
  static const char kTag[] = "modelcache-tree-v1";
  std::vector<uint8_t> buf(kTag, kTag + sizeof(kTag) - 1);
  for (int i = 0; i < 8; ++i) buf.push_back(static_cast<uint8_t>(static_cast<uint64_t>(n) >> (8 * i)));
  for (size_t off = 0; off < n; off += mc::kTreeChunk) {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(p + off, std::min(mc::kTreeChunk, n - off)));
    buf.insert(buf.end(), c.digest, c.digest + 16);
  }
  return ref_xxh3_128_hex(buf.data(), buf.size());
}

std::string hex(const mc::Digest128& d) { return mc_test::hex(d.bytes, 16); }

// Lengths around XXH3's internal thresholds (16, 128, 240, stripe and block sizes).
const size_t kLengths[] = {0, 1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, 1024, 1025, 65536, 100003};

}  // namespace

MC_TEST(xxh3_128_of_empty_input_is_the_published_digest) {
  MC_CHECK_EQ(hex(mc::xxh3_128("", 0)), std::string("99aa06d3014798d86001c324468d497f"));
  MC_CHECK_EQ(mc::to_hex(mc::xxh3_128(nullptr, 0)), std::string("99aa06d3014798d86001c324468d497f"));
}

MC_TEST(xxh3_128_matches_xxhash_canonical_form_at_many_lengths) {
  auto data = mc_test::pseudo_random_bytes(100003, 7);
  for (size_t n : kLengths) {
    MC_CHECK_EQ(hex(mc::xxh3_128(data.data(), n)), ref_xxh3_128_hex(data.data(), n));
  }
}

MC_TEST(xxh3_64_matches_xxhash) {
  auto data = mc_test::pseudo_random_bytes(100003, 8);
  for (size_t n : kLengths) {
    MC_CHECK_EQ(mc::xxh3_64(data.data(), n), static_cast<uint64_t>(XXH3_64bits(data.data(), n)));
  }
}

MC_TEST(to_hex_is_32_lowercase_hex_chars_in_canonical_byte_order) {
  mc::Digest128 d;
  for (int i = 0; i < 16; ++i) d.bytes[i] = static_cast<uint8_t>(i * 17 + 10);
  MC_CHECK_EQ(mc::to_hex(d), std::string("0a1b2c3d4e5f708192a3b4c5d6e7f809"));
}

MC_TEST(hash_rows_gives_the_xxh3_128_of_each_row) {
  for (size_t row_bytes : {size_t(1), size_t(3), size_t(16), size_t(24), size_t(1000)}) {
    const size_t rows = 37;
    auto data = mc_test::pseudo_random_bytes(rows * row_bytes, row_bytes);
    std::vector<uint8_t> out(16 * rows + 16, 0xEE);  // one spare digest to catch overruns
    mc::hash_rows(data.data(), data.size(), row_bytes, out.data());
    for (size_t r = 0; r < rows; ++r) {
      MC_CHECK_EQ(mc_test::hex(out.data() + 16 * r, 16),
                  ref_xxh3_128_hex(data.data() + r * row_bytes, row_bytes));
    }
    MC_CHECK_EQ(mc_test::hex(out.data() + 16 * rows, 16), std::string(32, 'e'));
  }
}

MC_TEST(hash_rows_of_no_rows_writes_nothing) {
  uint8_t out[16];
  std::fill(out, out + 16, 0xEE);
  mc::hash_rows(nullptr, 0, 8, out);
  MC_CHECK_EQ(mc_test::hex(out, 16), std::string(32, 'e'));
}

MC_TEST(tree_hash_follows_the_documented_layout) {
  const size_t big = 2 * mc::kTreeChunk + 12345;
  auto data = mc_test::pseudo_random_bytes(big, 11);
  const size_t lengths[] = {0, 1, 1000, mc::kTreeChunk - 1, mc::kTreeChunk, mc::kTreeChunk + 1,
                            2 * mc::kTreeChunk, big};
  for (size_t n : lengths) {
    MC_CHECK_EQ(hex(mc::tree_hash(data.data(), n)), ref_tree_hex(data.data(), n));
  }
}

MC_TEST(tree_hash_is_deterministic) {
  auto data = mc_test::pseudo_random_bytes(mc::kTreeChunk + 77, 12);
  std::string first = hex(mc::tree_hash(data.data(), data.size()));
  for (int i = 0; i < 3; ++i) MC_CHECK_EQ(hex(mc::tree_hash(data.data(), data.size())), first);
}

MC_TEST(tree_hash_differs_from_the_flat_hash_and_depends_on_every_leaf) {
  auto data = mc_test::pseudo_random_bytes(2 * mc::kTreeChunk + 5, 13);
  std::string base = hex(mc::tree_hash(data.data(), data.size()));
  MC_CHECK(base != ref_xxh3_128_hex(data.data(), data.size()));
  for (size_t pos : {size_t(0), mc::kTreeChunk, data.size() - 1}) {
    data[pos] ^= 1;
    MC_CHECK(hex(mc::tree_hash(data.data(), data.size())) != base);
    data[pos] ^= 1;
  }
}

MC_TEST(tree_hash_progress_reports_bytes_up_to_the_total) {
  const size_t n = 3 * mc::kTreeChunk + 1;
  auto data = mc_test::pseudo_random_bytes(n, 14);
  std::mutex mu;
  uint64_t max_done = 0;
  bool bad_total = false, past_total = false;
  int calls = 0;
  mc::tree_hash(data.data(), n, [&](uint64_t done, uint64_t total) {
    std::lock_guard<std::mutex> lock(mu);
    ++calls;
    if (total != n) bad_total = true;
    if (done > total) past_total = true;
    max_done = std::max(max_done, done);
  });
  MC_CHECK(!bad_total);
  MC_CHECK(!past_total);
  if (calls > 0) MC_CHECK_EQ(max_done, static_cast<uint64_t>(n));
}

MC_TEST(hash_file_equals_tree_hash_of_the_file_bytes) {
  for (size_t n : {size_t(0), size_t(1), size_t(4097), mc::kTreeChunk + 5}) {
    auto data = mc_test::pseudo_random_bytes(n, 15 + n);
    mc_test::TempFile file(data);
    MC_CHECK_EQ(hex(mc::hash_file(file.path())), hex(mc::tree_hash(data.data(), data.size())));
    MC_CHECK_EQ(hex(mc::hash_file(file.path())), ref_tree_hex(data.data(), data.size()));
  }
}

MC_TEST(hash_file_of_a_missing_path_throws_io) {
  MC_CHECK_THROWS_CODE(mc::hash_file("/nonexistent/modelcache-test/missing.bin"), mc::ErrorCode::kIo);
}

MC_TEST(hash_file_of_a_directory_throws_io) {
  MC_CHECK_THROWS_CODE(mc::hash_file("/"), mc::ErrorCode::kIo);
}

MC_TEST(hash_file_of_a_fifo_throws_io_without_waiting_for_a_writer) {
  mc_test::TempFile file;
  ::unlink(file.path().c_str());
  MC_CHECK_EQ(::mkfifo(file.path().c_str(), 0600), 0);
  MC_CHECK_THROWS_MSG(mc::hash_file(file.path()), mc::ErrorCode::kIo, "not a regular file");
}

namespace {

// A file of several leaves whose mtime lies in the past, so that any write moves it.
std::vector<uint8_t> aged_file(const mc_test::TempFile& file, size_t n) {
  auto data = mc_test::pseudo_random_bytes(n, 77);
  int fd = ::open(file.path().c_str(), O_WRONLY | O_TRUNC);
  MC_CHECK(fd >= 0);
  MC_CHECK_EQ(::pwrite(fd, data.data(), n, 0), static_cast<ssize_t>(n));
  const struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
  MC_CHECK_EQ(::futimens(fd, old), 0);
  ::close(fd);
  return data;
}

}  // namespace

MC_TEST(hash_file_of_a_file_truncated_while_hashed_throws_io) {
  mc_test::TempFile file;
  aged_file(file, 4 * mc::kTreeChunk);
  std::atomic<bool> cut{false};
  MC_CHECK_THROWS_MSG(mc::hash_file(file.path(), [&](uint64_t, uint64_t) {
                        if (!cut.exchange(true)) MC_CHECK_EQ(::truncate(file.path().c_str(), 100), 0);
                      }),
                      mc::ErrorCode::kIo, "changed while it was hashed");
}

MC_TEST(hash_file_of_a_file_rewritten_in_place_while_hashed_throws_io) {
  mc_test::TempFile file;
  aged_file(file, 3 * mc::kTreeChunk);
  std::atomic<bool> written{false};
  MC_CHECK_THROWS_MSG(mc::hash_file(file.path(), [&](uint64_t, uint64_t) {
                        if (written.exchange(true)) return;
                        int fd = ::open(file.path().c_str(), O_WRONLY);
                        MC_CHECK_EQ(::pwrite(fd, "x", 1, 0), 1);
                        ::close(fd);
                      }),
                      mc::ErrorCode::kIo, "it was modified");
}

MC_TEST(hash_file_does_not_depend_on_the_read_piece_or_leaf_boundaries) {
  // Lengths around the leaf size and the 256 KiB read piece.
  for (size_t n : {size_t(256 << 10), size_t((256 << 10) + 1), mc::kTreeChunk - 1, mc::kTreeChunk,
                   2 * mc::kTreeChunk + (256 << 10) - 1}) {
    auto data = mc_test::pseudo_random_bytes(n, n);
    mc_test::TempFile file(data);
    MC_CHECK_EQ(hex(mc::hash_file(file.path())), ref_tree_hex(data.data(), data.size()));
  }
}
