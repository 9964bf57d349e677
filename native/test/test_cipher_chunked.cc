// The chunked envelope (version 3): round trips around chunk boundaries, the layout documented in
// cipher.h checked chunk by chunk with OpenSSL EVP directly, and every way of moving, dropping or
// changing chunks, header fields or the aad failing with a typed error. ctest also runs this file
// with MODELCACHE_THREADS=1: the bytes never depend on the thread count.
#include <string>
#include <vector>

#include "check.h"
#include "cipher.h"
#include "cipher_ref.h"

namespace {

using mc::CipherAlgorithm;
using mc::ErrorCode;
using mc_test::Bytes;
using mc_test::evp_gcm;
using mc_test::slice;
using mc_test::text;

constexpr uint32_t kChunk = 4096;
constexpr size_t kHeader = mc::kChunkedHeaderSize;
constexpr size_t kTag = mc::kGcmTagSize;

Bytes key_a() { return mc_test::pseudo_random_bytes(32, 601); }

mc::Aad aad_of(const Bytes& aad) { return mc::Aad{aad.data(), aad.size()}; }

Bytes enc(const Bytes& pt, const Bytes& aad = {}, uint32_t chunk = kChunk, const Bytes& key = key_a()) {
  return mc::encrypt_chunked(key.data(), key.size(), pt.data(), pt.size(), aad_of(aad), chunk);
}
Bytes dec(const Bytes& env, const Bytes& aad = {}, const Bytes& key = key_a()) {
  return mc::decrypt(CipherAlgorithm::kAes256Gcm, key.data(), key.size(), env.data(), env.size(), aad_of(aad));
}

uint64_t u64le(const Bytes& b, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[at + i];
  return v;
}
Bytes le64(uint64_t v) {
  Bytes b(8);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
  return b;
}

// Where chunk i (ciphertext and tag) sits in an envelope of `plain` bytes.
struct Span {
  size_t start, len;
};
Span chunk_span(size_t plain, size_t i) {
  size_t clen = std::min<size_t>(kChunk, plain - i * kChunk);
  return {kHeader + i * (kChunk + kTag), clen + kTag};
}

}  // namespace

MC_TEST(chunked_round_trip_around_chunk_boundaries) {
  for (size_t n : {size_t(0), size_t(1), size_t(kChunk - 1), size_t(kChunk), size_t(kChunk + 1), size_t(3 * kChunk + 17)}) {
    Bytes pt = mc_test::pseudo_random_bytes(n, 700 + n);
    Bytes env = enc(pt);
    size_t chunks = n == 0 ? 1 : (n + kChunk - 1) / kChunk;
    MC_CHECK_EQ(env.size(), kHeader + n + chunks * kTag);
    MC_CHECK_EQ(env.size(), mc::chunked_envelope_size(n, kChunk));
    MC_CHECK_EQ(dec(env), pt);
  }
}

MC_TEST(chunked_round_trip_of_several_mebibytes_at_the_default_chunk_size) {
  Bytes pt = mc_test::pseudo_random_bytes((5 << 20) + 3, 701);
  Bytes key = key_a();
  Bytes env = mc::encrypt_chunked(key.data(), key.size(), pt.data(), pt.size());
  MC_CHECK_EQ(env.size(), mc::chunked_envelope_size(pt.size(), mc::kDefaultCipherChunk));
  MC_CHECK_EQ(dec(env), pt);
}

MC_TEST(chunked_header_carries_version_3_key_id_chunk_size_and_length) {
  Bytes env = enc(Bytes(10000, 0x42));
  MC_CHECK_EQ(slice(env, 0, 8), (Bytes{'M', 'C', 'E', 3, 1, 0, 0, 0}));
  MC_CHECK_EQ(slice(env, 8, 16), mc_test::ref_key_id(key_a()));
  MC_CHECK_EQ(u64le(env, 28) & 0xffffffffu, uint64_t(kChunk));
  MC_CHECK_EQ(u64le(env, 32), uint64_t(10000));
}

MC_TEST(chunked_known_answer_each_chunk_is_gcm_with_nonce_base_xor_index_and_bound_position) {
  Bytes aad = text("session/key-7/model.ort");
  Bytes pt = mc_test::pseudo_random_bytes(2 * kChunk + 100, 702);
  Bytes env = enc(pt, aad);
  Bytes header = slice(env, 0, kHeader);
  const size_t n = 3;
  for (size_t i = 0; i < n; ++i) {
    Bytes nonce = slice(env, 16, 28);
    for (int b = 0; b < 8; ++b) nonce[4 + b] ^= static_cast<uint8_t>(i >> (8 * b));
    Bytes ad = header;
    for (const Bytes& part : {le64(i), le64(n), aad}) ad.insert(ad.end(), part.begin(), part.end());
    Span s = chunk_span(pt.size(), i);
    bool ok = false;
    Bytes got = evp_gcm(false, key_a(), nonce, ad, slice(env, s.start, s.start + s.len), &ok);
    MC_CHECK(ok);
    MC_CHECK_EQ(got, slice(pt, i * kChunk, i * kChunk + s.len - kTag));
  }
}

MC_TEST(chunked_any_flipped_byte_after_the_key_id_fails) {
  Bytes pt = mc_test::pseudo_random_bytes(kChunk + 50, 703);
  Bytes env = enc(pt);
  for (size_t i = 16; i < env.size(); i += (i < kHeader ? 1 : 97)) {
    Bytes bad = env;
    bad[i] ^= 0x01;
    bool ok = false;
    try {
      dec(bad);
    } catch (const mc::Error& e) {
      // Nonce, ciphertext and tag fail authentication; chunk size and length are checked first.
      ok = e.code() == ErrorCode::kDecrypt || (i >= 28 && i < kHeader && e.code() == ErrorCode::kCorrupt);
    }
    MC_CHECK(ok);
  }
}

MC_TEST(chunked_swapped_or_repeated_chunks_fail_authentication) {
  Bytes pt = mc_test::pseudo_random_bytes(3 * kChunk, 704);
  Bytes env = enc(pt);
  Span a = chunk_span(pt.size(), 0), b = chunk_span(pt.size(), 1);
  Bytes swapped = env;
  std::copy(env.begin() + a.start, env.begin() + a.start + a.len, swapped.begin() + b.start);
  std::copy(env.begin() + b.start, env.begin() + b.start + b.len, swapped.begin() + a.start);
  MC_CHECK_THROWS_MSG(dec(swapped), ErrorCode::kDecrypt, "authentication failed");
  Bytes repeated = env;
  std::copy(env.begin() + a.start, env.begin() + a.start + a.len, repeated.begin() + b.start);
  MC_CHECK_THROWS_MSG(dec(repeated), ErrorCode::kDecrypt, "authentication failed");
}

MC_TEST(chunked_a_dropped_last_chunk_fails_even_with_the_length_rewritten) {
  Bytes pt = mc_test::pseudo_random_bytes(3 * kChunk, 705);
  Bytes env = enc(pt);
  Bytes cut = slice(env, 0, env.size() - (kChunk + kTag));
  MC_CHECK_THROWS_CODE(dec(cut), ErrorCode::kCorrupt);  // the size no longer matches the header
  Bytes len = le64(2 * kChunk);
  std::copy(len.begin(), len.end(), cut.begin() + 32);
  MC_CHECK_THROWS_MSG(dec(cut), ErrorCode::kDecrypt, "authentication failed");  // the header is bound
}

MC_TEST(chunked_a_chunk_from_another_envelope_fails_authentication) {
  Bytes pt = mc_test::pseudo_random_bytes(2 * kChunk, 706);
  Bytes one = enc(pt), two = enc(pt);
  Span s = chunk_span(pt.size(), 1);
  std::copy(two.begin() + s.start, two.begin() + s.start + s.len, one.begin() + s.start);
  MC_CHECK_THROWS_MSG(dec(one), ErrorCode::kDecrypt, "authentication failed");
}

MC_TEST(chunked_value_decrypts_only_with_its_aad) {
  Bytes pt = mc_test::pseudo_random_bytes(kChunk + 1, 707);
  Bytes env = enc(pt, text("ns/K1"));
  MC_CHECK_EQ(dec(env, text("ns/K1")), pt);
  MC_CHECK_THROWS_MSG(dec(env, text("ns/K2")), ErrorCode::kDecrypt, "authentication failed");
  MC_CHECK_THROWS_MSG(dec(env), ErrorCode::kDecrypt, "authentication failed");
}

MC_TEST(chunked_wrong_key_and_wrong_algorithm_are_reported_as_such) {
  Bytes env = enc(Bytes(100, 1));
  MC_CHECK_THROWS_MSG(dec(env, {}, mc_test::pseudo_random_bytes(32, 708)), ErrorCode::kDecrypt, "wrong key");
  Bytes key = key_a();
  MC_CHECK_THROWS_MSG(mc::decrypt(CipherAlgorithm::kXor, key.data(), key.size(), env.data(), env.size()),
                      ErrorCode::kDecrypt, "wrong algorithm");
}

MC_TEST(chunked_truncated_envelopes_are_corrupt) {
  Bytes env = enc(Bytes(kChunk + 5, 9));
  for (size_t n : {size_t(0), size_t(27), size_t(39), size_t(40), env.size() - 1}) {
    MC_CHECK_THROWS_CODE(dec(slice(env, 0, n)), ErrorCode::kCorrupt);
  }
  Bytes longer = env;
  longer.push_back(0);
  MC_CHECK_THROWS_CODE(dec(longer), ErrorCode::kCorrupt);
}

MC_TEST(chunked_invalid_chunk_sizes_are_refused) {
  Bytes pt(10, 1), key = key_a();
  for (uint32_t c : {0u, 1u, 4095u, 4097u, 6000u, (1u << 26) * 2}) {
    MC_CHECK_THROWS_CODE(mc::encrypt_chunked(key.data(), key.size(), pt.data(), pt.size(), {}, c), ErrorCode::kBadInput);
  }
  Bytes env = enc(pt);
  for (uint8_t b : {uint8_t(0x00), uint8_t(0x30)}) {
    Bytes bad = env;
    bad[29] = b;  // 4096 -> 0 or 0x3000
    MC_CHECK_THROWS_CODE(dec(bad), ErrorCode::kCorrupt);
  }
  MC_CHECK_THROWS_CODE(mc::encrypt_chunked(key.data(), 31, pt.data(), pt.size()), ErrorCode::kBadInput);
}
