// Encryption of stored values. AES-256-GCM goes through OpenSSL's EVP interface (the OpenSSL
// inside Node when loaded as an addon); XOR is obfuscation only and gives no security.
//
// Envelope layout:
//   0  u8[4]  magic "MCE" + envelope version (1)
//   4  u8     algorithm  1 aes-256-gcm, 2 xor
//   5  u8[3]  reserved (0)
//   8  u8[8]  key id: first 8 bytes of SHA-256("modelcache key id v1" || key)
//   16 u8[12] nonce (random; zero for xor)
//   28 ..     ciphertext (same length as the plaintext)
//   end-16    GCM tag (aes-256-gcm only)
// The 28 header bytes are the GCM additional data, so a changed header fails authentication.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mc {

enum class CipherAlgorithm : uint8_t { kAes256Gcm = 1, kXor = 2 };

constexpr size_t kEnvelopeHeaderSize = 28;
constexpr size_t kGcmTagSize = 16;

size_t envelope_size(CipherAlgorithm alg, size_t plaintext_len);

// Throws Error(kBadInput) when the key is unusable (aes-256-gcm needs 32 bytes; xor >= 1).
std::vector<uint8_t> encrypt(CipherAlgorithm alg, const uint8_t* key, size_t key_len,
                             const uint8_t* data, size_t len);

// Throws Error(kCorrupt) for bytes that are no envelope, Error(kDecrypt) with "wrong key",
// "wrong algorithm" or "authentication failed".
std::vector<uint8_t> decrypt(CipherAlgorithm alg, const uint8_t* key, size_t key_len,
                             const uint8_t* envelope, size_t len);

void key_id(const uint8_t* key, size_t key_len, uint8_t out[8]);

}  // namespace mc
