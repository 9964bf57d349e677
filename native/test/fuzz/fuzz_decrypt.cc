// Fuzz target for envelope decryption with fixed keys: any input must end in success or
// mc::Error. A plaintext that comes out must encrypt and decrypt back to itself.
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

void decrypt_one(mc::CipherAlgorithm alg, const uint8_t* key, size_t key_len, const uint8_t* data,
                 size_t size) {
  std::vector<uint8_t> plain;
  try {
    plain = mc::decrypt(alg, key, key_len, data, size);
  } catch (const mc::Error&) {
    return;
  }
  if (size != mc::envelope_size(alg, plain.size())) bug("plaintext length does not match the envelope");
  try {
    std::vector<uint8_t> env = mc::encrypt(alg, key, key_len, plain.data(), plain.size());
    if (mc::decrypt(alg, key, key_len, env.data(), env.size()) != plain) bug("round trip changed the bytes");
  } catch (const mc::Error& e) {
    bug("round trip of a decryptable envelope threw: ", e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  decrypt_one(mc::CipherAlgorithm::kAes256Gcm, mc_fuzz::kAesKey, sizeof(mc_fuzz::kAesKey), data, size);
  decrypt_one(mc::CipherAlgorithm::kXor, mc_fuzz::kXorKey, sizeof(mc_fuzz::kXorKey), data, size);
  return 0;
}
