// Shared glue for the Node-API binding: argument access, mapping core errors to JS errors with a
// stable `code`, a generic promise-returning AsyncWorker, and pinning of mapped input memory.
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "error.h"

namespace mcb {

// A view of the bytes of a Uint8Array/Buffer argument. The TS layer normalises every accepted
// input (TypedArray, DataView, ArrayBuffer, string) to a Uint8Array before calling in.
struct Bytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
};
Bytes GetBytes(const Napi::CallbackInfo& info, size_t index, const char* name);
int64_t GetInt(const Napi::CallbackInfo& info, size_t index, const char* name);
std::string GetString(const Napi::CallbackInfo& info, size_t index, const char* name);

// Throws a JS Error whose `code` is the core's error code name (TS re-wraps it as CacheError).
[[noreturn]] void ThrowCore(Napi::Env env, const mc::Error& e);
// Runs fn, converting mc::Error and std::bad_alloc into JS errors.
Napi::Value Guard(Napi::Env env, const std::function<Napi::Value()>& fn);
Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message);

// Hands a heap vector to JS without a copy where the runtime allows external buffers.
Napi::Buffer<uint8_t> ToBuffer(Napi::Env env, std::vector<uint8_t>&& bytes);

// Mapped-file registry: an async job whose input lies inside a live mapping pins it, so that
// MappedFile.close() during the job defers munmap until the job is done.
class MapPin {
 public:
  MapPin() = default;
  explicit MapPin(const uint8_t* p);
  ~MapPin();
  MapPin(MapPin&& o) noexcept;
  MapPin& operator=(MapPin&&) = delete;
  MapPin(const MapPin&) = delete;

 private:
  std::shared_ptr<void> state_;
};

// Generic async job: `execute` runs on the libuv pool and must not touch JS; `finish` builds the
// resolved value on the main thread. Inputs are kept alive (pinned, not copied) by references.
class Job : public Napi::AsyncWorker {
 public:
  using ExecuteFn = std::function<void()>;
  using FinishFn = std::function<Napi::Value(Napi::Env)>;
  Job(Napi::Env env, const char* name, ExecuteFn execute, FinishFn finish);
  // Keeps info[index] (a Uint8Array) alive and pins any mapping it points into.
  void Pin(const Napi::CallbackInfo& info, size_t index);
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  Napi::Promise::Deferred deferred_;
  ExecuteFn execute_;
  FinishFn finish_;
  std::vector<Napi::ObjectReference> refs_;
  std::vector<MapPin> pins_;
  std::string code_ = "ERR_INTERNAL";
};

void InitHash(Napi::Env env, Napi::Object exports);
void InitCodec(Napi::Env env, Napi::Object exports);
void InitMmap(Napi::Env env, Napi::Object exports);
void InitCipher(Napi::Env env, Napi::Object exports);

}  // namespace mcb
