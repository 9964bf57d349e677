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
// The state is xxHash's XXH3_state_t (same header, same layout); only its pointer crosses here.
int XXH3_128bits_update_dispatch(void* state, const void* input, size_t len);
}
#endif

#include "hash.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "error.h"
#include "thread_pool.h"

namespace mc {
namespace {

constexpr char kTreeTag[] = "modelcache-tree-v1";
// hash_file reads each leaf in pieces small enough to stay in L2: the kernel's copy lands in
// cache and the hash reads it from there, so the file's bytes cross memory once, as with mmap.
constexpr size_t kReadPiece = 256u << 10;

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

namespace {

// Streaming XXH3-128 of one leaf: the same digest as xxh3_128 over the concatenated pieces.
class LeafHasher {
 public:
  LeafHasher() {
    XXH3_INITSTATE(&state_);
    XXH3_128bits_reset(&state_);
  }
  void update(const uint8_t* p, size_t n) {
#ifdef MODELCACHE_XXH_DISPATCH
    XXH3_128bits_update_dispatch(&state_, p, n);
#else
    XXH3_128bits_update(&state_, p, n);
#endif
  }
  Digest128 digest() { return canonical(XXH3_128bits_digest(&state_)); }

 private:
  XXH3_state_t state_;
};

}  // namespace

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

namespace {

// The tree layout: XXH3-128 over (tag, u64 LE length, digest of each kTreeChunk leaf), with leaf
// digests from leaf(offset, size) computed in parallel.
template <typename Leaf>
Digest128 tree_digest(uint64_t len, const Progress& progress, Leaf leaf) {
  const size_t leaves = static_cast<size_t>((len + kTreeChunk - 1) / kTreeChunk);
  std::vector<uint8_t> top(sizeof(kTreeTag) - 1 + 8 + 16 * leaves);
  std::memcpy(top.data(), kTreeTag, sizeof(kTreeTag) - 1);
  for (int i = 0; i < 8; ++i) top[sizeof(kTreeTag) - 1 + i] = static_cast<uint8_t>(len >> (8 * i));
  uint8_t* digests = top.data() + sizeof(kTreeTag) - 1 + 8;

  std::atomic<uint64_t> done{0};
  parallel_for(leaves, [&](size_t i) {
    const uint64_t off = uint64_t(i) * kTreeChunk;
    const size_t sz = static_cast<size_t>(std::min<uint64_t>(kTreeChunk, len - off));
    Digest128 d = leaf(off, sz);
    std::memcpy(digests + 16 * i, d.bytes, 16);
    uint64_t now = done.fetch_add(sz) + sz;
    if (progress) progress(now, len);
  });
  if (leaves == 0 && progress) progress(0, 0);
  return xxh3_128(top.data(), top.size());
}

}  // namespace

Digest128 tree_hash(const uint8_t* data, size_t len, const Progress& progress) {
  return tree_digest(len, progress, [data](uint64_t off, size_t sz) { return xxh3_128(data + off, sz); });
}

namespace {

[[noreturn]] void file_error(const char* what, const std::string& path, int err) {
  throw Error(ErrorCode::kIo, std::string(what) + " '" + path + "': " + std::strerror(err));
}
[[noreturn]] void file_changed(const std::string& path, const std::string& how) {
  throw Error(ErrorCode::kIo, "'" + path + "' changed while it was hashed (" + how + ")");
}

bool same_version(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_ino == b.st_ino && a.st_dev == b.st_dev &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};

// One read buffer per thread, reused across leaves and files.
uint8_t* thread_read_buffer() {
  thread_local std::unique_ptr<uint8_t, AlignedFree> buf;
  if (!buf) {
    void* p = std::aligned_alloc(4096, kReadPiece);
    if (p == nullptr) throw Error(ErrorCode::kNoMemory, "cannot allocate a file read buffer");
    buf.reset(static_cast<uint8_t*>(p));
  }
  return buf.get();
}

// Reads [off, off + len) of fd into the leaf hash. A read that ends early means the file shrank.
Digest128 hash_leaf(int fd, uint64_t off, size_t len, const std::string& path) {
  uint8_t* buf = thread_read_buffer();
  LeafHasher h;
  size_t done = 0;
  while (done < len) {
    const size_t want = std::min(kReadPiece, len - done);
    const ssize_t r = ::pread(fd, buf, want, static_cast<off_t>(off + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      file_error("cannot read", path, errno);
    }
    if (r == 0) file_changed(path, "it was truncated");
    h.update(buf, static_cast<size_t>(r));
    done += static_cast<size_t>(r);
  }
  return h.digest();
}

}  // namespace

// The file is read with pread, never mapped: a file truncated by someone else while mapped would
// kill the process with SIGBUS, while a short read is just an error. The leaves and the digest
// are those of tree_hash over the file's bytes.
Digest128 hash_file(const std::string& path, const Progress& progress) {
  // O_NONBLOCK: a FIFO swapped in for the file must not block the open.
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (f.fd < 0) file_error("cannot open", path, errno);
  struct stat before;
  if (::fstat(f.fd, &before) != 0) file_error("cannot stat", path, errno);
  if (!S_ISREG(before.st_mode)) throw Error(ErrorCode::kIo, "cannot hash '" + path + "': not a regular file");
  const uint64_t len = static_cast<uint64_t>(before.st_size);
  if (len >= 2 * kTreeChunk) ::posix_fadvise(f.fd, 0, 0, POSIX_FADV_SEQUENTIAL);  // a hint only

  const Digest128 digest = tree_digest(
      len, progress, [&](uint64_t off, size_t sz) { return hash_leaf(f.fd, off, sz, path); });

  // Bytes read before and after a concurrent write would give a digest of no version of the file.
  struct stat after;
  if (::fstat(f.fd, &after) != 0) file_error("cannot stat", path, errno);
  if (after.st_size != before.st_size)
    file_changed(path, "size " + std::to_string(before.st_size) + " became " + std::to_string(after.st_size));
  if (!same_version(before, after)) file_changed(path, "it was modified");
  return digest;
}

}  // namespace mc
