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

}  // namespace mc
