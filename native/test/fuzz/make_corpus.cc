// Writes the seed corpora of the fuzz targets (committed, a few KB):
//   <root>/decompress/*  valid frames: every codec, with and without byte-shuffle, one and many
//                        chunks, incompressible (stored) chunks, empty input, lz4hc
//   <root>/decrypt/*     valid envelopes for the fixed keys of fuzz_decrypt (fuzz_keys.h), without
//                        and with its fixed aad (v1-* are version-1 envelopes kept from before aad;
//                        chunked-* are version-3 chunked envelopes)
// Usage: mc_make_corpus native/test/corpus   (or: node scripts/fuzz.mjs --make-corpus)
// Frames are deterministic; AES envelopes carry a random nonce, so they change on every run.
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cipher.h"
#include "codec.h"
#include "fuzz_keys.h"

namespace {

using Bytes = std::vector<uint8_t>;

bool write(const std::string& path, const Bytes& b) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    std::perror(path.c_str());
    return false;
  }
  bool ok = std::fwrite(b.data(), 1, b.size(), f) == b.size();
  ok = std::fclose(f) == 0 && ok;
  std::printf("%6zu  %s\n", b.size(), path.c_str());
  return ok;
}

Bytes text(size_t n) {
  static const char kLine[] = "modelcache caches tensors, sessions and pipeline outputs. ";
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(kLine[i % (sizeof(kLine) - 1)]);
  return b;
}

// float32 ramp: the byte-shuffle filter's use case (similar high bytes).
Bytes floats(size_t count) {
  Bytes b(count * 4);
  for (size_t i = 0; i < count; ++i) {
    float f = 1.0f + 0.01f * static_cast<float>(i);
    const auto* p = reinterpret_cast<const uint8_t*>(&f);
    for (int k = 0; k < 4; ++k) b[4 * i + k] = p[k];
  }
  return b;
}

Bytes noise(size_t n) {  // incompressible, so chunks are stored uncompressed
  Bytes b(n);
  uint32_t x = 2463534242u;
  for (auto& v : b) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    v = static_cast<uint8_t>(x);
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_ROOT (e.g. native/test/corpus)\n", argv[0]);
    return 2;
  }
  const std::string root = argv[1];
  bool ok = true;
  for (const char* sub : {"", "/decompress", "/decrypt"}) ::mkdir((root + sub).c_str(), 0755);

  struct Codec {
    const char* name;
    mc::Codec codec;
  } codecs[] = {{"none", mc::Codec::kNone}, {"zstd", mc::Codec::kZstd}, {"lz4", mc::Codec::kLz4}};
  for (const auto& c : codecs) {
    auto frame = [&](const char* what, const Bytes& raw, uint32_t element_size, uint32_t chunk, int level) {
      mc::EncodeOptions o;
      o.codec = c.codec;
      o.element_size = element_size;
      o.chunk_size = chunk;
      o.level = level;
      Bytes f = mc::encode(raw.data(), raw.size(), o);
      ok = write(root + "/decompress/" + c.name + "-" + what, f) && ok;
    };
    frame("empty", {}, 1, mc::kDefaultChunkSize, 0);
    frame("text", text(300), 1, mc::kDefaultChunkSize, 0);
    frame("text-5-chunks", text(1100), 1, 256, 0);
    frame("floats-shuffle4", floats(48), 4, mc::kDefaultChunkSize, 0);
    frame("floats-shuffle2-3-chunks-tail", floats(250), 2, 400, 0);  // short last chunk
    frame("noise-stored-3-chunks", noise(150), 1, 64, 0);
  }
  {
    mc::EncodeOptions o;  // lz4hc and a shuffle of 8 with bytes past the last element
    o.codec = mc::Codec::kLz4;
    o.level = 9;
    o.element_size = 8;
    Bytes raw = floats(30);
    raw.push_back(7);
    ok = write(root + "/decompress/lz4hc-shuffle8-tail", mc::encode(raw.data(), raw.size(), o)) && ok;
  }

  for (size_t n : {size_t(0), size_t(1), size_t(64)}) {
    Bytes pt = text(n);
    std::string suffix = std::to_string(n);
    for (const bool bound : {false, true}) {
      const mc::Aad aad = bound ? mc::Aad{mc_fuzz::kAad, sizeof(mc_fuzz::kAad)} : mc::Aad{};
      const std::string name = (bound ? "-aad-" : "-") + suffix;
      ok = write(root + "/decrypt/aes" + name,
                 mc::encrypt(mc::CipherAlgorithm::kAes256Gcm, mc_fuzz::kAesKey, sizeof(mc_fuzz::kAesKey),
                             pt.data(), pt.size(), aad)) && ok;
      ok = write(root + "/decrypt/xor" + name,
                 mc::encrypt(mc::CipherAlgorithm::kXor, mc_fuzz::kXorKey, sizeof(mc_fuzz::kXorKey),
                             pt.data(), pt.size(), aad)) && ok;
    }
  }
  // Chunked (version 3) envelopes: one empty chunk, one short chunk, three chunks with a short tail.
  for (size_t n : {size_t(0), size_t(1), size_t(2 * mc::kMinCipherChunk + 100)}) {
    Bytes pt = text(n);
    for (const bool bound : {false, true}) {
      const mc::Aad aad = bound ? mc::Aad{mc_fuzz::kAad, sizeof(mc_fuzz::kAad)} : mc::Aad{};
      ok = write(root + "/decrypt/chunked" + (bound ? "-aad-" : "-") + std::to_string(n),
                 mc::encrypt_chunked(mc_fuzz::kAesKey, sizeof(mc_fuzz::kAesKey), pt.data(), pt.size(), aad,
                                     mc::kMinCipherChunk)) && ok;
    }
  }
  return ok ? 0 : 1;
}
