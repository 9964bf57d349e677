// Reference computations for the cipher tests, done with OpenSSL EVP directly (never through
// cipher.cc), so that the envelope layouts documented in cipher.h are checked independently.
#pragma once
#include <openssl/evp.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace mc_test {

using Bytes = std::vector<uint8_t>;

inline Bytes text(const char* s) { return Bytes(s, s + std::strlen(s)); }

// First n bytes of SHA-256(tag || bytes), computed here without cipher.cc.
inline Bytes ref_sha256(const char* tag, const Bytes& bytes, size_t n) {
  Bytes msg = text(tag);
  msg.insert(msg.end(), bytes.begin(), bytes.end());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(msg.data(), msg.size(), md, &md_len, EVP_sha256(), nullptr) != 1 || md_len != 32) std::abort();
  return Bytes(md, md + n);
}

// SHA-256("modelcache key id v1" || key)[0..8).
inline Bytes ref_key_id(const Bytes& key) { return ref_sha256("modelcache key id v1", key, 8); }

// AES-256-GCM by hand: returns ciphertext || tag with `aad` authenticated; on decrypt, `in` is
// ciphertext || tag and the result is the plaintext (empty + ok=false when authentication fails).
inline Bytes evp_gcm(bool encrypting, const Bytes& key, const Bytes& nonce, const Bytes& aad, const Bytes& in,
              bool* ok) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  Bytes out(in.size() + 16);
  int len = 0, total = 0;
  size_t body = encrypting ? in.size() : in.size() - 16;
  *ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypting ? 1 : 0) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce.size()), nullptr) == 1 &&
        EVP_CipherInit_ex(ctx, nullptr, nullptr, key.data(), nonce.data(), -1) == 1 &&
        EVP_CipherUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1 &&
        EVP_CipherUpdate(ctx, out.data(), &len, in.data(), static_cast<int>(body)) == 1;
  total = len;
  if (*ok && !encrypting) {
    *ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, const_cast<uint8_t*>(in.data() + body)) == 1;
  }
  *ok = *ok && EVP_CipherFinal_ex(ctx, out.data() + total, &len) == 1;
  total += len;
  if (*ok && encrypting) {
    *ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out.data() + total) == 1;
    total += 16;
  }
  EVP_CIPHER_CTX_free(ctx);
  out.resize(*ok ? static_cast<size_t>(total) : 0);
  return out;
}

inline Bytes slice(const Bytes& b, size_t from, size_t to) { return Bytes(b.begin() + from, b.begin() + to); }

}  // namespace mc_test
