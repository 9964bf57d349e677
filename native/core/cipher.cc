// AES-256-GCM through OpenSSL EVP (never hand-written AES) and XOR obfuscation, both wrapped in
// the envelope documented in cipher.h. The key id lets decrypt tell a wrong key from tampering.
#include "cipher.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <string>

#include "error.h"
#include "thread_pool.h"

namespace mc {
namespace {

constexpr uint8_t kMagic[3] = {'M', 'C', 'E'};
constexpr uint8_t kEnvelopeVersion = 2;
constexpr uint8_t kEnvelopeVersionNoAad = 1;  // read only, and only without an aad
constexpr uint8_t kEnvelopeVersionChunked = 3;
constexpr size_t kNonceOffset = 16;
constexpr size_t kNonceSize = 12;
constexpr char kKeyIdTag[] = "modelcache key id v1";
constexpr char kAadTag[] = "modelcache aad v2";
// EVP takes int lengths: feed large buffers in pieces well below INT_MAX.
constexpr size_t kEvpPiece = 1u << 30;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

std::vector<uint8_t> decrypt_chunked(const uint8_t* key, const uint8_t* env, size_t len, Aad aad);

[[noreturn]] void crypto_fail(const char* what) {
  throw Error(ErrorCode::kCrypto, std::string("OpenSSL ") + what + " failed");
}

void check_key(CipherAlgorithm alg, size_t key_len) {
  if (alg == CipherAlgorithm::kAes256Gcm) {
    if (key_len != 32)
      throw Error(ErrorCode::kBadInput,
                  "key must be 32 bytes for aes-256-gcm but has " + std::to_string(key_len));
  } else if (alg == CipherAlgorithm::kXor) {
    if (key_len == 0) throw Error(ErrorCode::kBadInput, "key must not be empty for xor");
  } else {
    throw Error(ErrorCode::kBadInput, "unknown cipher algorithm");
  }
}

void xor_with_key(const uint8_t* in, uint8_t* out, size_t len, const uint8_t* key, size_t key_len) {
  if (key_len == 1) {
    for (size_t i = 0; i < len; ++i) out[i] = in[i] ^ key[0];
    return;
  }
  size_t k = 0;
  for (size_t i = 0; i < len; ++i) {
    out[i] = in[i] ^ key[k];
    if (++k == key_len) k = 0;
  }
}

// Runs EVP_{En,De}cryptUpdate over len bytes in int-sized pieces.
template <typename Update>
void evp_update_all(EVP_CIPHER_CTX* ctx, const uint8_t* in, uint8_t* out, size_t len, Update update) {
  size_t off = 0;
  while (off < len) {
    int piece = static_cast<int>(std::min(kEvpPiece, len - off));
    int written = 0;
    if (update(ctx, out + off, &written, in + off, piece) != 1 || written != piece)
      crypto_fail("cipher update");
    off += piece;
  }
}

}  // namespace

namespace {

// The first n bytes of SHA-256(tag || bytes).
void tagged_sha256(const char* tag, size_t tag_len, const uint8_t* bytes, size_t len, uint8_t* out, size_t n) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  if (md == nullptr) crypto_fail("EVP_MD_CTX_new");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int dlen = 0;
  bool ok = EVP_DigestInit_ex(md, EVP_sha256(), nullptr) == 1 &&
            EVP_DigestUpdate(md, tag, tag_len) == 1 && EVP_DigestUpdate(md, bytes, len) == 1 &&
            EVP_DigestFinal_ex(md, digest, &dlen) == 1;
  EVP_MD_CTX_free(md);
  if (!ok || dlen < n) crypto_fail("SHA-256");
  std::memcpy(out, digest, n);
}

void xor_aad_digest(Aad aad, uint8_t out[kNonceSize]) {
  tagged_sha256(kAadTag, sizeof(kAadTag) - 1, aad.data, aad.size, out, kNonceSize);
}

// Feeds the GCM additional data: the envelope header, then the caller's aad.
void gcm_aad(EVP_CIPHER_CTX* ctx, const uint8_t* header, Aad aad, bool encrypting) {
  auto update = encrypting ? EVP_EncryptUpdate : EVP_DecryptUpdate;
  int n = 0;
  if (update(ctx, nullptr, &n, header, kEnvelopeHeaderSize) != 1) crypto_fail("AES-GCM additional data");
  size_t off = 0;
  while (off < aad.size) {
    int piece = static_cast<int>(std::min(kEvpPiece, aad.size - off));
    if (update(ctx, nullptr, &n, aad.data + off, piece) != 1) crypto_fail("AES-GCM additional data");
    off += piece;
  }
}

}  // namespace

void key_id(const uint8_t* key, size_t key_len, uint8_t out[8]) {
  tagged_sha256(kKeyIdTag, sizeof(kKeyIdTag) - 1, key, key_len, out, 8);
}

size_t envelope_size(CipherAlgorithm alg, size_t plaintext_len) {
  return kEnvelopeHeaderSize + plaintext_len + (alg == CipherAlgorithm::kAes256Gcm ? kGcmTagSize : 0);
}

std::vector<uint8_t> encrypt(CipherAlgorithm alg, const uint8_t* key, size_t key_len,
                             const uint8_t* data, size_t len, Aad aad) {
  check_key(alg, key_len);
  std::vector<uint8_t> out(envelope_size(alg, len));
  uint8_t* h = out.data();
  std::memcpy(h, kMagic, 3);
  h[3] = kEnvelopeVersion;
  h[4] = static_cast<uint8_t>(alg);
  key_id(key, key_len, h + 8);
  uint8_t* body = h + kEnvelopeHeaderSize;

  if (alg == CipherAlgorithm::kXor) {
    xor_aad_digest(aad, h + kNonceOffset);
    xor_with_key(data, body, len, key, key_len);
    return out;
  }
  if (RAND_bytes(h + kNonceOffset, kNonceSize) != 1) crypto_fail("RAND_bytes");
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) crypto_fail("EVP_CIPHER_CTX_new");
  int n = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key, h + kNonceOffset) != 1)
    crypto_fail("AES-GCM init");
  gcm_aad(ctx.get(), h, aad, true);
  evp_update_all(ctx.get(), data, body, len, EVP_EncryptUpdate);
  if (EVP_EncryptFinal_ex(ctx.get(), body + len, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagSize, body + len) != 1)
    crypto_fail("AES-GCM final");
  return out;
}

std::vector<uint8_t> decrypt(CipherAlgorithm alg, const uint8_t* key, size_t key_len,
                             const uint8_t* env, size_t len, Aad aad) {
  check_key(alg, key_len);
  if (len < kEnvelopeHeaderSize || std::memcmp(env, kMagic, 3) != 0)
    throw Error(ErrorCode::kCorrupt, "not an encrypted modelcache value (bad magic)");
  if (env[3] != kEnvelopeVersion && env[3] != kEnvelopeVersionNoAad && env[3] != kEnvelopeVersionChunked)
    throw Error(ErrorCode::kCorrupt,
                "unsupported envelope version " + std::to_string(env[3]) + " (expected 1, 2 or 3)");
  if (env[4] != static_cast<uint8_t>(CipherAlgorithm::kAes256Gcm) &&
      env[4] != static_cast<uint8_t>(CipherAlgorithm::kXor))
    throw Error(ErrorCode::kCorrupt, "unknown cipher algorithm in envelope");
  if (env[4] != static_cast<uint8_t>(alg))
    throw Error(ErrorCode::kDecrypt, "wrong algorithm: the value was encrypted with another cipher");
  if (env[5] != 0 || env[6] != 0 || env[7] != 0)
    throw Error(ErrorCode::kDecrypt, "authentication failed: envelope header was modified");
  uint8_t id[8];
  key_id(key, key_len, id);
  if (std::memcmp(id, env + 8, 8) != 0)
    throw Error(ErrorCode::kDecrypt, "wrong key: the value was encrypted with a different key");
  if (env[3] == kEnvelopeVersionNoAad && aad.size != 0)
    throw Error(ErrorCode::kDecrypt,
                "another context: the value was encrypted by an older version without an aad");
  if (env[3] == kEnvelopeVersionChunked) {
    if (alg != CipherAlgorithm::kAes256Gcm) throw Error(ErrorCode::kCorrupt, "chunked envelope of a cipher other than aes-256-gcm");
    return decrypt_chunked(key, env, len, aad);
  }

  const uint8_t* body = env + kEnvelopeHeaderSize;
  if (alg == CipherAlgorithm::kXor) {
    uint8_t expected[kNonceSize] = {};
    if (env[3] == kEnvelopeVersion) xor_aad_digest(aad, expected);
    if (std::memcmp(env + kNonceOffset, expected, kNonceSize) != 0)
      throw Error(ErrorCode::kDecrypt,
                  "another context: the value was encrypted with another aad (or its header was modified)");
    std::vector<uint8_t> out(len - kEnvelopeHeaderSize);
    xor_with_key(body, out.data(), out.size(), key, key_len);
    return out;
  }
  if (len < kEnvelopeHeaderSize + kGcmTagSize)
    throw Error(ErrorCode::kCorrupt, "encrypted value is truncated (no room for the GCM tag)");
  const size_t clen = len - kEnvelopeHeaderSize - kGcmTagSize;
  std::vector<uint8_t> out(clen);
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) crypto_fail("EVP_CIPHER_CTX_new");
  int n = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key, env + kNonceOffset) != 1)
    crypto_fail("AES-GCM init");
  gcm_aad(ctx.get(), env, aad, false);
  evp_update_all(ctx.get(), body, out.data(), clen, EVP_DecryptUpdate);
  uint8_t tag[kGcmTagSize];
  std::memcpy(tag, body + clen, kGcmTagSize);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagSize, tag) != 1)
    crypto_fail("AES-GCM set tag");
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + clen, &n) != 1) {
    // Never hand back unauthenticated plaintext, not even in memory we free.
    if (!out.empty()) OPENSSL_cleanse(out.data(), out.size());
    throw Error(ErrorCode::kDecrypt,
                "authentication failed: the encrypted value was modified or belongs to another aad");
  }
  return out;
}

// ------------------------------------------------------------------------- chunked (version 3)

namespace {

void put_u32le(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put_u64le(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get_u32le(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get_u64le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

bool valid_chunk_size(uint64_t c) {
  return c >= kMinCipherChunk && c <= kMaxCipherChunk && (c & (c - 1)) == 0;
}

uint64_t chunk_count(uint64_t len, uint64_t chunk) { return len == 0 ? 1 : (len - 1) / chunk + 1; }

// One chunk as its own GCM message: nonce = base ^ i (last 8 bytes), additional data = header,
// u64le(i), u64le(n), aad. Returns false when a decrypted chunk does not authenticate.
bool gcm_chunk(bool encrypting, const uint8_t* key, const uint8_t* header, uint64_t i, uint64_t n, Aad aad,
               const uint8_t* in, uint8_t* out, size_t len, uint8_t* tag) {
  uint8_t nonce[kNonceSize];
  std::memcpy(nonce, header + kNonceOffset, kNonceSize);
  for (int b = 0; b < 8; ++b) nonce[4 + b] ^= static_cast<uint8_t>(i >> (8 * b));
  uint8_t position[16];
  put_u64le(position, i);
  put_u64le(position + 8, n);
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) crypto_fail("EVP_CIPHER_CTX_new");
  auto init = encrypting ? EVP_EncryptInit_ex : EVP_DecryptInit_ex;
  auto update = encrypting ? EVP_EncryptUpdate : EVP_DecryptUpdate;
  int written = 0;
  if (init(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
      init(ctx.get(), nullptr, nullptr, key, nonce) != 1)
    crypto_fail("AES-GCM init");
  if (update(ctx.get(), nullptr, &written, header, kChunkedHeaderSize) != 1 ||
      update(ctx.get(), nullptr, &written, position, sizeof(position)) != 1)
    crypto_fail("AES-GCM additional data");
  for (size_t off = 0; off < aad.size;) {
    int piece = static_cast<int>(std::min(kEvpPiece, aad.size - off));
    if (update(ctx.get(), nullptr, &written, aad.data + off, piece) != 1) crypto_fail("AES-GCM additional data");
    off += piece;
  }
  evp_update_all(ctx.get(), in, out, len, update);
  if (encrypting) {
    if (EVP_EncryptFinal_ex(ctx.get(), out + len, &written) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagSize, tag) != 1)
      crypto_fail("AES-GCM final");
    return true;
  }
  uint8_t expected[kGcmTagSize];
  std::memcpy(expected, tag, kGcmTagSize);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagSize, expected) != 1)
    crypto_fail("AES-GCM set tag");
  return EVP_DecryptFinal_ex(ctx.get(), out + len, &written) == 1;
}

std::vector<uint8_t> decrypt_chunked(const uint8_t* key, const uint8_t* env, size_t len, Aad aad) {
  if (len < kChunkedHeaderSize) throw Error(ErrorCode::kCorrupt, "chunked envelope is truncated (no room for its header)");
  const uint64_t chunk = get_u32le(env + 28);
  const uint64_t plain = get_u64le(env + 32);
  if (!valid_chunk_size(chunk)) throw Error(ErrorCode::kCorrupt, "chunked envelope has an invalid chunk size");
  // Every length is checked against the buffer before it is used: plain <= len rules out overflow below.
  if (plain > len) throw Error(ErrorCode::kCorrupt, "chunked envelope is truncated");
  const uint64_t n = chunk_count(plain, chunk);
  if (len - kChunkedHeaderSize != plain + n * kGcmTagSize)
    throw Error(ErrorCode::kCorrupt, "chunked envelope is truncated or has trailing bytes");
  std::vector<uint8_t> out(static_cast<size_t>(plain));
  const uint8_t* body = env + kChunkedHeaderSize;
  parallel_for(static_cast<size_t>(n), [&](size_t i) {
    const uint64_t start = i * chunk;
    const size_t clen = static_cast<size_t>(std::min<uint64_t>(chunk, plain - start));
    const uint8_t* in = body + start + i * kGcmTagSize;
    uint8_t tag[kGcmTagSize];
    std::memcpy(tag, in + clen, kGcmTagSize);
    if (!gcm_chunk(false, key, env, i, n, aad, in, out.data() + start, clen, tag))
      throw Error(ErrorCode::kDecrypt,
                  "authentication failed: the encrypted value was modified or belongs to another aad");
  });
  return out;
}

}  // namespace

size_t chunked_envelope_size(size_t plaintext_len, uint32_t chunk_size) {
  return kChunkedHeaderSize + plaintext_len + chunk_count(plaintext_len, chunk_size) * kGcmTagSize;
}

std::vector<uint8_t> encrypt_chunked(const uint8_t* key, size_t key_len, const uint8_t* data, size_t len,
                                     Aad aad, uint32_t chunk_size) {
  check_key(CipherAlgorithm::kAes256Gcm, key_len);
  if (!valid_chunk_size(chunk_size))
    throw Error(ErrorCode::kBadInput, "chunk size must be a power of two between 4 KiB and 64 MiB");
  const uint64_t n = chunk_count(len, chunk_size);
  std::vector<uint8_t> out(chunked_envelope_size(len, chunk_size));
  uint8_t* h = out.data();
  std::memcpy(h, kMagic, 3);
  h[3] = kEnvelopeVersionChunked;
  h[4] = static_cast<uint8_t>(CipherAlgorithm::kAes256Gcm);
  key_id(key, key_len, h + 8);
  if (RAND_bytes(h + kNonceOffset, kNonceSize) != 1) crypto_fail("RAND_bytes");
  put_u32le(h + 28, chunk_size);
  put_u64le(h + 32, len);
  uint8_t* body = h + kChunkedHeaderSize;
  parallel_for(static_cast<size_t>(n), [&](size_t i) {
    const uint64_t start = static_cast<uint64_t>(i) * chunk_size;
    const size_t clen = static_cast<size_t>(std::min<uint64_t>(chunk_size, len - start));
    uint8_t* dst = body + start + i * kGcmTagSize;
    gcm_chunk(true, key, h, i, n, aad, data + start, dst, clen, dst + clen);
  });
  return out;
}

}  // namespace mc
