// hash, treeHash (sync and async), hashRows, hashFile.
#include <atomic>
#include <chrono>

#include "binding.h"
#include "hash.h"

namespace mcb {
namespace {

// One digest function, exposed both ways: sync on the calling thread, async on the libuv pool.
using DigestFn = mc::Digest128 (*)(const uint8_t*, size_t);
mc::Digest128 Plain(const uint8_t* d, size_t n) { return mc::xxh3_128(d, n); }
mc::Digest128 Tree(const uint8_t* d, size_t n) { return mc::tree_hash(d, n); }

template <DigestFn kDigest>
Napi::Value HexSync(const Napi::CallbackInfo& info) {
  Bytes b = GetBytes(info, 0, "data");
  return Napi::String::New(info.Env(), mc::to_hex(kDigest(b.data, b.size)));
}

template <DigestFn kDigest>
Napi::Value HexAsync(const Napi::CallbackInfo& info) {
  Bytes b = GetBytes(info, 0, "data");
  auto out = std::make_shared<std::string>();
  auto* job = new Job(
      info.Env(), "modelcache.hash", [b, out] { *out = mc::to_hex(kDigest(b.data, b.size)); },
      [out](Napi::Env env) -> Napi::Value { return Napi::String::New(env, *out); });
  job->Pin(info, 0);
  job->Queue();
  return job->Promise();
}

Napi::Value HashRows(const Napi::CallbackInfo& info) {
  Bytes b = GetBytes(info, 0, "data");
  int64_t row = GetInt(info, 1, "rowBytes");
  return Guard(info.Env(), [&]() -> Napi::Value {
    if (row <= 0) throw mc::Error(mc::ErrorCode::kBadInput, "rowBytes must be a positive integer");
    size_t rows = b.size / static_cast<size_t>(row);
    auto out = Napi::Buffer<uint8_t>::New(info.Env(), rows * 16);
    mc::hash_rows(b.data, b.size, static_cast<size_t>(row), out.Data());
    return out;
  });
}

struct FileProgress {
  uint64_t done;
  uint64_t total;
};

// Hashes a file on the libuv pool, reporting progress at most every 50 ms.
class HashFileWorker : public Napi::AsyncProgressWorker<FileProgress> {
 public:
  HashFileWorker(Napi::Env env, std::string path, Napi::Function progress)
      : Napi::AsyncProgressWorker<FileProgress>(env, "modelcache.hashFile"),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)) {
    if (!progress.IsEmpty()) progress_ = Napi::Persistent(progress);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    try {
      mc::Progress cb;
      if (!progress_.IsEmpty()) {
        cb = [this, &progress](uint64_t done, uint64_t total) {
          auto now = std::chrono::steady_clock::now().time_since_epoch().count();
          auto last = last_report_.load(std::memory_order_relaxed);
          if (done != total && now - last < 50'000'000) return;
          if (!last_report_.compare_exchange_strong(last, now) && done != total) return;
          FileProgress p{done, total};
          progress.Send(&p, 1);
        };
      }
      hex_ = mc::to_hex(mc::hash_file(path_, cb));
    } catch (const mc::Error& e) {
      code_ = mc::error_code_name(e.code());
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      code_ = "ERR_NO_MEMORY";
      SetError("out of memory");
    } catch (const std::exception& e) {  // e.g. a thread that could not start: never terminate()
      SetError(e.what());
    }
  }
  void OnProgress(const FileProgress* data, size_t count) override {
    if (progress_.IsEmpty() || count == 0) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    progress_.Call({Napi::Number::New(env, static_cast<double>(data[count - 1].done)),
                    Napi::Number::New(env, static_cast<double>(data[count - 1].total))});
  }
  void OnOK() override { deferred_.Resolve(Napi::String::New(Env(), hex_)); }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(MakeError(Env(), code_.c_str(), e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  Napi::FunctionReference progress_;
  std::string hex_;
  std::string code_ = "ERR_INTERNAL";
  std::atomic<long long> last_report_{0};
};

Napi::Value HashFile(const Napi::CallbackInfo& info) {
  std::string path = GetString(info, 0, "path");
  Napi::Function progress;
  if (info.Length() > 1 && info[1].IsFunction()) progress = info[1].As<Napi::Function>();
  auto* worker = new HashFileWorker(info.Env(), path, progress);
  worker->Queue();
  return worker->Promise();
}

}  // namespace

void InitHash(Napi::Env env, Napi::Object exports) {
  exports.Set("hash", Napi::Function::New(env, HexSync<Plain>, "hash"));
  exports.Set("hashAsync", Napi::Function::New(env, HexAsync<Plain>, "hashAsync"));
  exports.Set("treeHash", Napi::Function::New(env, HexSync<Tree>, "treeHash"));
  exports.Set("treeHashAsync", Napi::Function::New(env, HexAsync<Tree>, "treeHashAsync"));
  exports.Set("hashRows", Napi::Function::New(env, HashRows, "hashRows"));
  exports.Set("hashFile", Napi::Function::New(env, HashFile, "hashFile"));
}

}  // namespace mcb
