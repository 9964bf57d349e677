// Fuzz target for envelope decryption (every version, the chunked one included) with fixed keys
// and aads: any input must end in success or mc::Error. A plaintext that comes out must encrypt and decrypt back to itself, and must never
// come out with another aad: a value bound to one cache key is never served for another.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "cipher.h"
#include "error.h"
#include "fuzz_keys.h"

namespace {

[[noreturn]] void bug(const char* what, const char* detail = "") {
  std::fprintf(stderr, "fuzz_decrypt: %s%s\n", what, detail);
  std::abort();
}

mc::Aad aad_of(const uint8_t* p, size_t n) { return mc::Aad{p, n}; }

// The size an envelope of `plain` bytes must have, by its version (chunked: by its chunk size).
size_t envelope_size_of(mc::CipherAlgorithm alg, const uint8_t* env, size_t plain) {
  if (env[3] != 3) return mc::envelope_size(alg, plain);
  uint32_t chunk = 0;
  for (int i = 3; i >= 0; --i) chunk = (chunk << 8) | env[28 + i];
  return mc::chunked_envelope_size(plain, chunk);
}

// A plaintext that came out must survive a round trip through the chunked envelope too.
void chunked_round_trip(const uint8_t* key, size_t key_len, const std::vector<uint8_t>& plain, mc::Aad aad) {
  try {
    std::vector<uint8_t> env = mc::encrypt_chunked(key, key_len, plain.data(), plain.size(), aad, mc::kMinCipherChunk);
    if (mc::decrypt(mc::CipherAlgorithm::kAes256Gcm, key, key_len, env.data(), env.size(), aad) != plain)
      bug("chunked round trip changed the bytes");
  } catch (const mc::Error& e) {
    bug("chunked round trip of a decryptable envelope threw: ", e.what());
  }
}

void decrypt_one(mc::CipherAlgorithm alg, const uint8_t* key, size_t key_len, const uint8_t* data,
                 size_t size, mc::Aad aad, mc::Aad other) {
  std::vector<uint8_t> plain;
  try {
    plain = mc::decrypt(alg, key, key_len, data, size, aad);
  } catch (const mc::Error&) {
    return;
  }
  if (size != envelope_size_of(alg, data, plain.size())) bug("plaintext length does not match the envelope");
  try {
    mc::decrypt(alg, key, key_len, data, size, other);
    bug("an envelope decrypted with two different aads");
  } catch (const mc::Error& e) {
    if (e.code() != mc::ErrorCode::kDecrypt) bug("another aad gave an error other than kDecrypt: ", e.what());
  }
  try {
    std::vector<uint8_t> env = mc::encrypt(alg, key, key_len, plain.data(), plain.size(), aad);
    if (mc::decrypt(alg, key, key_len, env.data(), env.size(), aad) != plain) bug("round trip changed the bytes");
  } catch (const mc::Error& e) {
    bug("round trip of a decryptable envelope threw: ", e.what());
  }
  if (alg == mc::CipherAlgorithm::kAes256Gcm) chunked_round_trip(key, key_len, plain, aad);
}

void decrypt_all(mc::CipherAlgorithm alg, const uint8_t* key, size_t key_len, const uint8_t* data, size_t size) {
  const mc::Aad none{};
  const mc::Aad fixed = aad_of(mc_fuzz::kAad, sizeof(mc_fuzz::kAad));
  decrypt_one(alg, key, key_len, data, size, none, fixed);
  decrypt_one(alg, key, key_len, data, size, fixed, none);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  decrypt_all(mc::CipherAlgorithm::kAes256Gcm, mc_fuzz::kAesKey, sizeof(mc_fuzz::kAesKey), data, size);
  decrypt_all(mc::CipherAlgorithm::kXor, mc_fuzz::kXorKey, sizeof(mc_fuzz::kXorKey), data, size);
  return 0;
}
