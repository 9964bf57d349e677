// mapFile: a read-only mapping handed to JS as an external Buffer (zero copy). close() detaches
// the ArrayBuffer at once, so JS can no longer reach the memory, and unmaps when no async job
// still reads it; the ArrayBuffer's finalizer unmaps a mapping that was never closed.
#include <map>

#include "binding.h"
#include "mmap.h"

namespace mcb {
namespace {

struct MapState {
  std::unique_ptr<mc::MappedFile> file;
  const uint8_t* start = nullptr;
  size_t size = 0;
  int pins = 0;
  bool released = false;  // closed by the user or the buffer was collected
};

// Live mappings by start address. Touched on the main thread only.
std::map<const uint8_t*, std::shared_ptr<MapState>>& Registry() {
  static auto* r = new std::map<const uint8_t*, std::shared_ptr<MapState>>();
  return *r;
}

void MaybeUnmap(const std::shared_ptr<MapState>& s) {
  if (!s->released || s->pins > 0 || !s->file) return;
  Registry().erase(s->start);
  s->file->close();
  s->file.reset();
}

class MappedFileHandle : public Napi::ObjectWrap<MappedFileHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "MappedFileHandle",
                       {InstanceMethod<&MappedFileHandle::Close>("close"),
                        InstanceAccessor<&MappedFileHandle::Buffer>("buffer"),
                        InstanceAccessor<&MappedFileHandle::Mapped>("mapped")});
  }

  explicit MappedFileHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MappedFileHandle>(info) {
    std::string path = GetString(info, 0, "path");
    Napi::Env env = info.Env();
    std::unique_ptr<mc::MappedFile> file;
    try {
      file = std::make_unique<mc::MappedFile>(path);
    } catch (const mc::Error& e) {
      ThrowCore(env, e);
    }
    Napi::Uint8Array view;
    if (file->size() == 0) {
      view = Napi::Uint8Array::New(env, 0);
      file->close();
    } else {
      state_ = std::make_shared<MapState>();
      state_->start = file->data();
      state_->size = file->size();
      state_->file = std::move(file);
      auto* hint = new std::shared_ptr<MapState>(state_);
      napi_value ab = nullptr;
      napi_status st = napi_create_external_arraybuffer(
          env, const_cast<uint8_t*>(state_->start), state_->size,
          [](napi_env, void*, void* h) {
            auto* sp = static_cast<std::shared_ptr<MapState>*>(h);
            (*sp)->released = true;
            MaybeUnmap(*sp);
            delete sp;
          },
          hint, &ab);
      if (st == napi_ok) {
        Registry()[state_->start] = state_;
        auto array = Napi::ArrayBuffer(env, ab);
        view = Napi::Uint8Array::New(env, state_->size, array, 0);
        arraybuffer_ = Napi::Weak(array);
        mapped_ = true;
      } else {
        // Runtimes that refuse external buffers (e.g. with a V8 sandbox): copy, then unmap.
        delete hint;
        auto copy = Napi::Buffer<uint8_t>::Copy(env, state_->start, state_->size);
        view = copy.As<Napi::Uint8Array>();
        state_->released = true;
        MaybeUnmap(state_);
        state_.reset();
      }
    }
    buffer_ = Napi::Persistent(view.As<Napi::Object>());
  }

 private:
  Napi::Value Buffer(const Napi::CallbackInfo& info) {
    if (closed_) return info.Env().Null();
    return buffer_.Value();
  }
  Napi::Value Mapped(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), mapped_); }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (closed_) return info.Env().Undefined();
    closed_ = true;
    buffer_.Reset();
    if (state_) {
      if (!arraybuffer_.IsEmpty()) {
        Napi::Value v = arraybuffer_.Value();
        if (!v.IsEmpty() && v.IsArrayBuffer()) {
          auto ab = v.As<Napi::ArrayBuffer>();
          if (!ab.IsDetached()) ab.Detach();
        }
      }
      arraybuffer_.Reset();
      state_->released = true;
      MaybeUnmap(state_);
      state_.reset();
    }
    return info.Env().Undefined();
  }

  std::shared_ptr<MapState> state_;
  Napi::ObjectReference buffer_;
  Napi::Reference<Napi::ArrayBuffer> arraybuffer_;
  bool mapped_ = false;
  bool closed_ = false;
};

}  // namespace

MapPin::MapPin(const uint8_t* p) {
  auto& reg = Registry();
  auto it = reg.upper_bound(p);
  if (it == reg.begin()) return;
  --it;
  auto& s = it->second;
  if (p >= s->start && p < s->start + s->size) {
    ++s->pins;
    state_ = s;
  }
}

MapPin::MapPin(MapPin&& o) noexcept : state_(std::move(o.state_)) {}

MapPin::~MapPin() {
  if (!state_) return;
  auto s = std::static_pointer_cast<MapState>(state_);
  --s->pins;
  MaybeUnmap(s);
}

void InitMmap(Napi::Env env, Napi::Object exports) {
  exports.Set("MappedFileHandle", MappedFileHandle::Define(env));
}

}  // namespace mcb
