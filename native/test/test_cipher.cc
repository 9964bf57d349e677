// Envelope encryption: round trips, the typed errors that tell a wrong key from tampering from
// garbage, and a known-answer check that builds an envelope with OpenSSL EVP directly, proving
// the layout documented in cipher.h.
#include "cipher.h"

#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "cipher_ref.h"

namespace {

using mc::CipherAlgorithm;
using mc::ErrorCode;
using mc_test::Bytes;
using mc_test::evp_gcm;
using mc_test::ref_key_id;
using mc_test::ref_sha256;
using mc_test::slice;
using mc_test::text;

const CipherAlgorithm kAlgs[] = {CipherAlgorithm::kAes256Gcm, CipherAlgorithm::kXor};

Bytes key_a() { return mc_test::pseudo_random_bytes(32, 101); }
Bytes key_b() { return mc_test::pseudo_random_bytes(32, 102); }

mc::Aad aad_of(const Bytes& aad) { return mc::Aad{aad.data(), aad.size()}; }

Bytes enc(CipherAlgorithm alg, const Bytes& key, const Bytes& pt, const Bytes& aad = {}) {
  return mc::encrypt(alg, key.data(), key.size(), pt.data(), pt.size(), aad_of(aad));
}
Bytes dec(CipherAlgorithm alg, const Bytes& key, const Bytes& env, const Bytes& aad = {}) {
  return mc::decrypt(alg, key.data(), key.size(), env.data(), env.size(), aad_of(aad));
}

Bytes header(CipherAlgorithm alg, const Bytes& key, const Bytes& nonce, uint8_t version = 2) {
  Bytes h = {'M', 'C', 'E', version, static_cast<uint8_t>(alg), 0, 0, 0};
  Bytes id = ref_key_id(key);
  h.insert(h.end(), id.begin(), id.end());
  h.insert(h.end(), nonce.begin(), nonce.end());
  return h;
}

}  // namespace

MC_TEST(round_trip_at_sizes_0_1_and_1MiB) {
  for (auto alg : kAlgs) {
    for (size_t n : {size_t(0), size_t(1), size_t(1) << 20}) {
      Bytes pt = mc_test::pseudo_random_bytes(n, 200 + n);
      Bytes env = enc(alg, key_a(), pt);
      MC_CHECK_EQ(env.size(), mc::envelope_size(alg, n));
      MC_CHECK_EQ(env.size(), mc::kEnvelopeHeaderSize + n +
                                  (alg == CipherAlgorithm::kAes256Gcm ? mc::kGcmTagSize : 0));
      MC_CHECK_EQ(dec(alg, key_a(), env), pt);
    }
  }
}

MC_TEST(envelope_header_carries_magic_algorithm_and_key_id) {
  for (auto alg : kAlgs) {
    Bytes env = enc(alg, key_a(), Bytes(10, 0x55));
    MC_CHECK_EQ(slice(env, 0, 8), (Bytes{'M', 'C', 'E', 2, static_cast<uint8_t>(alg), 0, 0, 0}));
    MC_CHECK_EQ(slice(env, 8, 16), ref_key_id(key_a()));
    if (alg == CipherAlgorithm::kXor) MC_CHECK_EQ(slice(env, 16, 28), ref_sha256("modelcache aad v2", {}, 12));
  }
}

MC_TEST(key_id_is_sha256_prefix_of_tag_and_key) {
  for (size_t n : {size_t(1), size_t(7), size_t(32)}) {
    Bytes key = mc_test::pseudo_random_bytes(n, 300 + n);
    uint8_t id[8];
    mc::key_id(key.data(), key.size(), id);
    MC_CHECK_EQ(Bytes(id, id + 8), ref_key_id(key));
  }
}

MC_TEST(aes_gcm_hides_the_plaintext_and_uses_a_fresh_nonce_each_time) {
  Bytes pt(4096, 0);
  Bytes a = enc(CipherAlgorithm::kAes256Gcm, key_a(), pt);
  Bytes b = enc(CipherAlgorithm::kAes256Gcm, key_a(), pt);
  MC_CHECK(slice(a, 16, 28) != slice(b, 16, 28));
  MC_CHECK(slice(a, 28, 28 + pt.size()) != pt);
  MC_CHECK(a != b);
}

MC_TEST(aes_known_answer_envelope_built_with_evp_decrypts) {
  Bytes key = key_a();
  Bytes nonce = mc_test::pseudo_random_bytes(12, 400);
  Bytes pt = mc_test::pseudo_random_bytes(1000, 401);
  Bytes env = header(CipherAlgorithm::kAes256Gcm, key, nonce);
  bool ok = false;
  Bytes ct_tag = evp_gcm(true, key, nonce, env, pt, &ok);
  MC_CHECK(ok);
  env.insert(env.end(), ct_tag.begin(), ct_tag.end());
  MC_CHECK_EQ(dec(CipherAlgorithm::kAes256Gcm, key, env), pt);
}

MC_TEST(aes_envelope_from_encrypt_decrypts_with_evp_and_header_as_aad) {
  Bytes key = key_a();
  Bytes pt = mc_test::pseudo_random_bytes(777, 402);
  Bytes env = enc(CipherAlgorithm::kAes256Gcm, key, pt);
  Bytes hdr = slice(env, 0, mc::kEnvelopeHeaderSize);
  Bytes nonce = slice(env, 16, 28);
  bool ok = false;
  MC_CHECK_EQ(evp_gcm(false, key, nonce, hdr, slice(env, 28, env.size()), &ok), pt);
  MC_CHECK(ok);
  Bytes other_hdr = hdr;
  other_hdr[5] ^= 1;
  evp_gcm(false, key, nonce, other_hdr, slice(env, 28, env.size()), &ok);
  MC_CHECK(!ok);  // the header really is the additional data
}

MC_TEST(aes_envelope_authenticates_the_header_followed_by_the_aad) {
  Bytes key = key_a();
  Bytes aad = text("session\0key-1");
  Bytes pt = mc_test::pseudo_random_bytes(300, 403);
  Bytes env = enc(CipherAlgorithm::kAes256Gcm, key, pt, aad);
  Bytes ad = slice(env, 0, mc::kEnvelopeHeaderSize);
  ad.insert(ad.end(), aad.begin(), aad.end());
  bool ok = false;
  MC_CHECK_EQ(evp_gcm(false, key, slice(env, 16, 28), ad, slice(env, 28, env.size()), &ok), pt);
  MC_CHECK(ok);
}

MC_TEST(a_value_decrypts_only_with_the_aad_it_was_encrypted_with) {
  const Bytes k1 = text("ns/K1"), k2 = text("ns/K2");
  for (auto alg : kAlgs) {
    Bytes pt = mc_test::pseudo_random_bytes(64, 404);
    Bytes env = enc(alg, key_a(), pt, k1);
    MC_CHECK_EQ(dec(alg, key_a(), env, k1), pt);
    const char* why = alg == CipherAlgorithm::kXor ? "another context" : "authentication failed";
    MC_CHECK_THROWS_MSG(dec(alg, key_a(), env, k2), ErrorCode::kDecrypt, why);
    MC_CHECK_THROWS_MSG(dec(alg, key_a(), env), ErrorCode::kDecrypt, why);
    MC_CHECK_THROWS_MSG(dec(alg, key_a(), enc(alg, key_a(), pt), k1), ErrorCode::kDecrypt, why);
  }
}

MC_TEST(a_large_aad_is_bound_in_full) {
  Bytes aad = mc_test::pseudo_random_bytes(3 << 20, 405);
  Bytes env = enc(CipherAlgorithm::kAes256Gcm, key_a(), Bytes(10, 1), aad);
  MC_CHECK_EQ(dec(CipherAlgorithm::kAes256Gcm, key_a(), env, aad), Bytes(10, 1));
  aad.back() ^= 1;
  MC_CHECK_THROWS_CODE(dec(CipherAlgorithm::kAes256Gcm, key_a(), env, aad), ErrorCode::kDecrypt);
}

MC_TEST(a_version_1_envelope_decrypts_without_aad_and_is_refused_with_one) {
  Bytes key = key_a();
  Bytes nonce = mc_test::pseudo_random_bytes(12, 406);
  Bytes pt = text("written before aad existed");
  Bytes env = header(CipherAlgorithm::kAes256Gcm, key, nonce, 1);
  bool ok = false;
  Bytes ct_tag = evp_gcm(true, key, nonce, env, pt, &ok);
  env.insert(env.end(), ct_tag.begin(), ct_tag.end());
  MC_CHECK_EQ(dec(CipherAlgorithm::kAes256Gcm, key, env), pt);
  MC_CHECK_THROWS_MSG(dec(CipherAlgorithm::kAes256Gcm, key, env, text("K1")), ErrorCode::kDecrypt,
                      "older version without an aad");
  Bytes x = header(CipherAlgorithm::kXor, key, Bytes(12, 0), 1);
  for (size_t i = 0; i < pt.size(); ++i) x.push_back(pt[i] ^ key[i % key.size()]);
  MC_CHECK_EQ(dec(CipherAlgorithm::kXor, key, x), pt);
  MC_CHECK_THROWS_CODE(dec(CipherAlgorithm::kXor, key, x, text("K1")), ErrorCode::kDecrypt);
}

MC_TEST(wrong_key_is_reported_as_wrong_key) {
  for (auto alg : kAlgs) {
    Bytes env = enc(alg, key_a(), Bytes(100, 1));
    MC_CHECK_THROWS_MSG(dec(alg, key_b(), env), ErrorCode::kDecrypt, "wrong key");
  }
  Bytes env = enc(CipherAlgorithm::kXor, Bytes{1, 2, 3}, Bytes(5, 9));
  MC_CHECK_THROWS_MSG(dec(CipherAlgorithm::kXor, (Bytes{1, 2, 4}), env), ErrorCode::kDecrypt, "wrong key");
}

MC_TEST(changed_key_id_is_reported_as_wrong_key) {
  for (auto alg : kAlgs) {
    Bytes env = enc(alg, key_a(), Bytes(100, 1));
    env[12] ^= 0x10;
    MC_CHECK_THROWS_MSG(dec(alg, key_a(), env), ErrorCode::kDecrypt, "wrong key");
  }
}

MC_TEST(other_algorithm_is_reported_as_wrong_algorithm) {
  Bytes aes = enc(CipherAlgorithm::kAes256Gcm, key_a(), Bytes(100, 1));
  MC_CHECK_THROWS_MSG(dec(CipherAlgorithm::kXor, key_a(), aes), ErrorCode::kDecrypt, "wrong algorithm");
  Bytes x = enc(CipherAlgorithm::kXor, key_a(), Bytes(100, 1));
  MC_CHECK_THROWS_MSG(dec(CipherAlgorithm::kAes256Gcm, key_a(), x), ErrorCode::kDecrypt, "wrong algorithm");
}

MC_TEST(any_flipped_byte_of_reserved_nonce_ciphertext_or_tag_fails_authentication) {
  Bytes pt = mc_test::pseudo_random_bytes(40, 500);
  Bytes env = enc(CipherAlgorithm::kAes256Gcm, key_a(), pt);
  for (size_t i = 0; i < env.size(); ++i) {
    if (i < 5 || (i >= 8 && i < 16)) continue;  // magic, algorithm and key id have own errors
    Bytes bad = env;
    bad[i] ^= 0x01;
    MC_CHECK_THROWS_MSG(dec(CipherAlgorithm::kAes256Gcm, key_a(), bad), ErrorCode::kDecrypt,
                        "authentication failed");
  }
  // The tag of an empty plaintext still covers the header.
  Bytes empty = enc(CipherAlgorithm::kAes256Gcm, key_a(), Bytes());
  for (size_t i : {size_t(6), size_t(20), empty.size() - 1}) {
    Bytes bad = empty;
    bad[i] ^= 0x80;
    MC_CHECK_THROWS_MSG(dec(CipherAlgorithm::kAes256Gcm, key_a(), bad), ErrorCode::kDecrypt,
                        "authentication failed");
  }
}

MC_TEST(changed_magic_or_version_is_not_an_envelope) {
  for (auto alg : kAlgs) {
    Bytes env = enc(alg, key_a(), Bytes(10, 3));
    for (size_t i = 0; i < 4; ++i) {
      Bytes bad = env;
      bad[i] ^= 0x20;
      MC_CHECK_THROWS_CODE(dec(alg, key_a(), bad), ErrorCode::kCorrupt);
    }
  }
}

MC_TEST(truncated_envelope_is_corrupt) {
  for (auto alg : kAlgs) {
    Bytes env = enc(alg, key_a(), Bytes());
    for (size_t n = 0; n < env.size(); ++n) {
      MC_CHECK_THROWS_CODE(dec(alg, key_a(), slice(env, 0, n)), ErrorCode::kCorrupt);
    }
  }
  MC_CHECK_THROWS_CODE(mc::decrypt(CipherAlgorithm::kXor, key_a().data(), 32, nullptr, 0), ErrorCode::kCorrupt);
}

MC_TEST(truncated_aes_ciphertext_fails_authentication) {
  Bytes env = enc(CipherAlgorithm::kAes256Gcm, key_a(), Bytes(64, 7));
  MC_CHECK_THROWS_CODE(dec(CipherAlgorithm::kAes256Gcm, key_a(), slice(env, 0, env.size() - 1)),
                       ErrorCode::kDecrypt);
}

MC_TEST(unusable_keys_are_bad_input) {
  Bytes pt(10, 1);
  MC_CHECK_THROWS_CODE(mc::encrypt(CipherAlgorithm::kAes256Gcm, key_a().data(), 31, pt.data(), pt.size()),
                       ErrorCode::kBadInput);
  MC_CHECK_THROWS_CODE(mc::encrypt(CipherAlgorithm::kAes256Gcm, key_a().data(), 33, pt.data(), pt.size()),
                       ErrorCode::kBadInput);
  MC_CHECK_THROWS_CODE(mc::encrypt(CipherAlgorithm::kXor, key_a().data(), 0, pt.data(), pt.size()),
                       ErrorCode::kBadInput);
}
