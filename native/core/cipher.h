// Encryption of stored values. AES-256-GCM goes through OpenSSL's EVP interface (the OpenSSL
// inside Node when loaded as an addon); XOR is obfuscation only and gives no security.
//
// Envelope layout (version 2):
//   0  u8[4]  magic "MCE" + envelope version (2)
//   4  u8     algorithm  1 aes-256-gcm, 2 xor
//   5  u8[3]  reserved (0)
//   8  u8[8]  key id: first 8 bytes of SHA-256("modelcache key id v1" || key)
//   16 u8[12] aes-256-gcm: random nonce; xor: first 12 bytes of SHA-256("modelcache aad v2" || aad)
//   28 ..     ciphertext (same length as the plaintext)
//   end-16    GCM tag (aes-256-gcm only)
// The GCM additional data is the 28 header bytes followed by the caller's aad (a cache stores its
// key and namespace there), so a changed header, or a value moved to another key, fails
// authentication. XOR cannot authenticate; its aad digest only tells contexts apart.
// Version 1 (before aad: GCM additional data = header, xor nonce all zero) is still read when no
// aad is given; with an aad it is ERR_DECRYPT, so an old entry reads as a miss.
//
// Chunked envelope (version 3, aes-256-gcm only), for large values: the chunks are independent
// GCM messages, so both directions run in parallel on the thread pool.
//   0  u8[4]  magic "MCE" + 3          4  u8 algorithm (1)       5  u8[3] reserved (0)
//   8  u8[8]  key id                  16  u8[12] random base nonce
//   28 u32    chunk size (a power of two in [4 KiB, 64 MiB])
//   32 u64    plaintext length
//   40 ..     n chunks, each ciphertext (chunk size bytes, the last one the rest: 0 bytes for an
//             empty value) followed by its 16-byte GCM tag; n = max(1, ceil(length / chunk size))
// Chunk i's nonce is the base nonce with its last 8 bytes XORed with u64le(i); its additional data
// is the 40 header bytes, u64le(i), u64le(n), then the caller's aad. So a chunk moved, dropped,
// repeated or taken from another envelope, a changed header, a truncated tail or another aad all
// fail authentication; the envelope's size must be exactly 40 + length + 16 n.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mc {

enum class CipherAlgorithm : uint8_t { kAes256Gcm = 1, kXor = 2 };

constexpr size_t kEnvelopeHeaderSize = 28;
constexpr size_t kGcmTagSize = 16;

size_t envelope_size(CipherAlgorithm alg, size_t plaintext_len);

// Additional authenticated data: bytes bound to the value without being stored in it.
struct Aad {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

// Throws Error(kBadInput) when the key is unusable (aes-256-gcm needs 32 bytes; xor >= 1).
std::vector<uint8_t> encrypt(CipherAlgorithm alg, const uint8_t* key, size_t key_len,
                             const uint8_t* data, size_t len, Aad aad = {});

// Throws Error(kCorrupt) for bytes that are no envelope, Error(kDecrypt) with "wrong key",
// "wrong algorithm", "authentication failed" (tampered, or another aad) or "another context"
// (xor with another aad, or a version-1 envelope read with an aad).
std::vector<uint8_t> decrypt(CipherAlgorithm alg, const uint8_t* key, size_t key_len,
                             const uint8_t* envelope, size_t len, Aad aad = {});

void key_id(const uint8_t* key, size_t key_len, uint8_t out[8]);

constexpr size_t kChunkedHeaderSize = 40;
constexpr uint32_t kDefaultCipherChunk = 1u << 20;
constexpr uint32_t kMinCipherChunk = 1u << 12;
constexpr uint32_t kMaxCipherChunk = 1u << 26;

// Bytes of a chunked envelope of `plaintext_len` bytes in chunks of `chunk_size`.
size_t chunked_envelope_size(size_t plaintext_len, uint32_t chunk_size);

// A chunked (version 3) aes-256-gcm envelope; chunks are encrypted in parallel. Throws
// Error(kBadInput) for a key that is not 32 bytes or a chunk size that is not allowed.
// decrypt() reads it (it dispatches on the envelope version).
std::vector<uint8_t> encrypt_chunked(const uint8_t* key, size_t key_len, const uint8_t* data, size_t len,
                                     Aad aad = {}, uint32_t chunk_size = kDefaultCipherChunk);

}  // namespace mc
