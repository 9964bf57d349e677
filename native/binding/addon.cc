// Module entry point and the helpers shared by every binding file.
#include "binding.h"

#include <new>

#include "thread_pool.h"

namespace mcb {

constexpr size_t kCopyThreshold = 64 * 1024;

Bytes GetBytes(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value v = info[index];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw MakeError(info.Env(), "ERR_BAD_INPUT", std::string("Expected Uint8Array for ") + name);
  auto a = v.As<Napi::Uint8Array>();
  return Bytes{a.Data(), a.ByteLength()};
}

int64_t GetInt(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value v = info[index];
  if (!v.IsNumber())
    throw MakeError(info.Env(), "ERR_BAD_INPUT", std::string("Expected integer for ") + name);
  return v.As<Napi::Number>().Int64Value();
}

std::string GetString(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value v = info[index];
  if (!v.IsString())
    throw MakeError(info.Env(), "ERR_BAD_INPUT", std::string("Expected string for ") + name);
  return v.As<Napi::String>().Utf8Value();
}

Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

void ThrowCore(Napi::Env env, const mc::Error& e) {
  throw MakeError(env, mc::error_code_name(e.code()), e.what());
}

Napi::Value Guard(Napi::Env env, const std::function<Napi::Value()>& fn) {
  try {
    return fn();
  } catch (const mc::Error& e) {
    ThrowCore(env, e);
  } catch (const std::bad_alloc&) {
    throw MakeError(env, "ERR_NO_MEMORY", "out of memory");
  }
}

Napi::Buffer<uint8_t> ToBuffer(Napi::Env env, std::vector<uint8_t>&& bytes) {
  if (bytes.empty()) return Napi::Buffer<uint8_t>::New(env, 0);
  // Small results are copied into a V8-managed Buffer: an external buffer's finalizer and
  // external-memory accounting cost more than copying a few KiB (the per-sample tensor case).
  if (bytes.size() <= kCopyThreshold) return Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size());
  auto* holder = new std::vector<uint8_t>(std::move(bytes));
  const int64_t size = static_cast<int64_t>(holder->size());
  auto buf = Napi::Buffer<uint8_t>::NewOrCopy(
      env, holder->data(), holder->size(),
      [size](Napi::Env e, uint8_t*, std::vector<uint8_t>* h) {
        Napi::MemoryManagement::AdjustExternalMemory(e, -size);
        delete h;
      },
      holder);
  Napi::MemoryManagement::AdjustExternalMemory(env, size);
  return buf;
}

Job::Job(Napi::Env env, const char* name, ExecuteFn execute, FinishFn finish)
    : Napi::AsyncWorker(env, name),
      deferred_(Napi::Promise::Deferred::New(env)),
      execute_(std::move(execute)),
      finish_(std::move(finish)) {}

void Job::Pin(const Napi::CallbackInfo& info, size_t index) {
  Napi::Value v = info[index];
  if (v.IsObject()) refs_.push_back(Napi::Persistent(v.As<Napi::Object>()));
  if (v.IsTypedArray()) pins_.emplace_back(v.As<Napi::Uint8Array>().Data());
}

void Job::Execute() {
  try {
    execute_();
  } catch (const mc::Error& e) {
    code_ = mc::error_code_name(e.code());
    SetError(e.what());
  } catch (const std::bad_alloc&) {
    code_ = "ERR_NO_MEMORY";
    SetError("out of memory");
  } catch (const std::exception& e) {
    SetError(e.what());
  }
}

void Job::OnOK() {
  Napi::Env env = Env();
  try {
    deferred_.Resolve(finish_(env));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  }
  pins_.clear();
}

void Job::OnError(const Napi::Error& e) {
  Napi::Error err = MakeError(Env(), code_.c_str(), e.Message());
  deferred_.Reject(err.Value());
  pins_.clear();
}

static Napi::Value PoolThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(mc::pool_threads()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitHash(env, exports);
  InitCodec(env, exports);
  InitMmap(env, exports);
  InitCipher(env, exports);
  exports.Set("poolThreads", Napi::Function::New(env, PoolThreads, "poolThreads"));
  return exports;
}

}  // namespace mcb

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return mcb::Init(env, exports); }

NODE_API_MODULE(modelcache, InitModule)
