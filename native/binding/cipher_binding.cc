// encrypt/decrypt (sync and async) for aes-256-gcm and xor envelopes:
// (data, algorithm, key[, aad]) with Uint8Array data, key and aad; encryptChunked(Async)
// (data, key, aad, chunkSize) for chunked aes-256-gcm envelopes (decrypt reads every version).
#include "binding.h"
#include "cipher.h"

namespace mcb {
namespace {

mc::CipherAlgorithm GetAlgorithm(const Napi::CallbackInfo& info, size_t index) {
  int64_t a = GetInt(info, index, "algorithm");
  if (a != 1 && a != 2) throw MakeError(info.Env(), "ERR_BAD_INPUT", "Expected algorithm 1 or 2");
  return static_cast<mc::CipherAlgorithm>(a);
}

// The arguments of one call, read on the main thread.
struct Args {
  Bytes data;
  mc::CipherAlgorithm alg;
  Bytes key;
  mc::Aad aad;
  bool has_aad;
};

Args GetArgs(const Napi::CallbackInfo& info) {
  Args a{GetBytes(info, 0, "data"), GetAlgorithm(info, 1), GetBytes(info, 2, "key"), {}, false};
  if (info.Length() > 3 && !info[3].IsUndefined()) {
    Bytes aad = GetBytes(info, 3, "aad");
    a.aad = mc::Aad{aad.data, aad.size};
    a.has_aad = true;
  }
  return a;
}

template <bool kEncrypt>
std::vector<uint8_t> Apply(const Args& a) {
  return kEncrypt ? mc::encrypt(a.alg, a.key.data, a.key.size, a.data.data, a.data.size, a.aad)
                  : mc::decrypt(a.alg, a.key.data, a.key.size, a.data.data, a.data.size, a.aad);
}

template <bool kEncrypt>
Napi::Value Run(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info);
  return Guard(info.Env(), [&]() -> Napi::Value { return ToBuffer(info.Env(), Apply<kEncrypt>(a)); });
}

template <bool kEncrypt>
Napi::Value RunAsync(const Napi::CallbackInfo& info) {
  Args a = GetArgs(info);
  auto out = std::make_shared<std::vector<uint8_t>>();
  auto* job = new Job(
      info.Env(), kEncrypt ? "modelcache.encrypt" : "modelcache.decrypt", [a, out] { *out = Apply<kEncrypt>(a); },
      [out](Napi::Env env) -> Napi::Value { return ToBuffer(env, std::move(*out)); });
  job->Pin(info, 0);
  job->Pin(info, 2);
  if (a.has_aad) job->Pin(info, 3);
  job->Queue();
  return job->Promise();
}

// Chunked aes-256-gcm: (data, key, aad, chunkSize); the chunks run in parallel on the core's pool.
struct ChunkedArgs {
  Bytes data;
  Bytes key;
  mc::Aad aad;
  uint32_t chunk;
};

ChunkedArgs GetChunkedArgs(const Napi::CallbackInfo& info) {
  Bytes aad = GetBytes(info, 2, "aad");
  int64_t chunk = GetInt(info, 3, "chunkSize");
  if (chunk <= 0 || chunk > UINT32_MAX) throw MakeError(info.Env(), "ERR_BAD_INPUT", "Expected a chunk size in (0, 2^32)");
  return {GetBytes(info, 0, "data"), GetBytes(info, 1, "key"), mc::Aad{aad.data, aad.size}, static_cast<uint32_t>(chunk)};
}

std::vector<uint8_t> ApplyChunked(const ChunkedArgs& a) {
  return mc::encrypt_chunked(a.key.data, a.key.size, a.data.data, a.data.size, a.aad, a.chunk);
}

Napi::Value EncryptChunked(const Napi::CallbackInfo& info) {
  ChunkedArgs a = GetChunkedArgs(info);
  return Guard(info.Env(), [&]() -> Napi::Value { return ToBuffer(info.Env(), ApplyChunked(a)); });
}

Napi::Value EncryptChunkedAsync(const Napi::CallbackInfo& info) {
  ChunkedArgs a = GetChunkedArgs(info);
  auto out = std::make_shared<std::vector<uint8_t>>();
  auto* job = new Job(
      info.Env(), "modelcache.encryptChunked", [a, out] { *out = ApplyChunked(a); },
      [out](Napi::Env env) -> Napi::Value { return ToBuffer(env, std::move(*out)); });
  for (size_t i : {0, 1, 2}) job->Pin(info, i);
  job->Queue();
  return job->Promise();
}

}  // namespace

void InitCipher(Napi::Env env, Napi::Object exports) {
  exports.Set("encrypt", Napi::Function::New(env, Run<true>, "encrypt"));
  exports.Set("decrypt", Napi::Function::New(env, Run<false>, "decrypt"));
  exports.Set("encryptAsync", Napi::Function::New(env, RunAsync<true>, "encryptAsync"));
  exports.Set("decryptAsync", Napi::Function::New(env, RunAsync<false>, "decryptAsync"));
  exports.Set("encryptChunked", Napi::Function::New(env, EncryptChunked, "encryptChunked"));
  exports.Set("encryptChunkedAsync", Napi::Function::New(env, EncryptChunkedAsync, "encryptChunkedAsync"));
}

}  // namespace mcb
