// encrypt/decrypt (sync and async) for aes-256-gcm and xor envelopes.
#include "binding.h"
#include "cipher.h"

namespace mcb {
namespace {

mc::CipherAlgorithm GetAlgorithm(const Napi::CallbackInfo& info, size_t index) {
  int64_t a = GetInt(info, index, "algorithm");
  if (a != 1 && a != 2) throw MakeError(info.Env(), "ERR_BAD_INPUT", "Expected algorithm 1 or 2");
  return static_cast<mc::CipherAlgorithm>(a);
}

template <bool kEncrypt>
Napi::Value Run(const Napi::CallbackInfo& info) {
  Bytes data = GetBytes(info, 0, "data");
  mc::CipherAlgorithm alg = GetAlgorithm(info, 1);
  Bytes key = GetBytes(info, 2, "key");
  return Guard(info.Env(), [&]() -> Napi::Value {
    return ToBuffer(info.Env(), kEncrypt ? mc::encrypt(alg, key.data, key.size, data.data, data.size)
                                         : mc::decrypt(alg, key.data, key.size, data.data, data.size));
  });
}

template <bool kEncrypt>
Napi::Value RunAsync(const Napi::CallbackInfo& info) {
  Bytes data = GetBytes(info, 0, "data");
  mc::CipherAlgorithm alg = GetAlgorithm(info, 1);
  Bytes key = GetBytes(info, 2, "key");
  auto out = std::make_shared<std::vector<uint8_t>>();
  auto* job = new Job(
      info.Env(), kEncrypt ? "modelcache.encrypt" : "modelcache.decrypt",
      [=] {
        *out = kEncrypt ? mc::encrypt(alg, key.data, key.size, data.data, data.size)
                        : mc::decrypt(alg, key.data, key.size, data.data, data.size);
      },
      [out](Napi::Env env) -> Napi::Value { return ToBuffer(env, std::move(*out)); });
  job->Pin(info, 0);
  job->Pin(info, 2);
  job->Queue();
  return job->Promise();
}

}  // namespace

void InitCipher(Napi::Env env, Napi::Object exports) {
  exports.Set("encrypt", Napi::Function::New(env, Run<true>, "encrypt"));
  exports.Set("decrypt", Napi::Function::New(env, Run<false>, "decrypt"));
  exports.Set("encryptAsync", Napi::Function::New(env, RunAsync<true>, "encryptAsync"));
  exports.Set("decryptAsync", Napi::Function::New(env, RunAsync<false>, "decryptAsync"));
}

}  // namespace mcb
