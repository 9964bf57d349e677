// compress/decompress (sync and async), frame inspection, and float casts.
#include "binding.h"
#include "cast.h"
#include "codec.h"

namespace mcb {
namespace {

mc::EncodeOptions GetEncodeOptions(const Napi::CallbackInfo& info, size_t first) {
  mc::EncodeOptions o;
  int64_t codec = GetInt(info, first, "codec");
  if (codec < 0 || codec > 2) throw MakeError(info.Env(), "ERR_BAD_INPUT", "Expected codec 0..2");
  o.codec = static_cast<mc::Codec>(codec);
  o.level = static_cast<int>(GetInt(info, first + 1, "level"));
  int64_t es = GetInt(info, first + 2, "elementSize");
  int64_t cs = GetInt(info, first + 3, "chunkSize");
  if (es < 1 || es > 255) throw MakeError(info.Env(), "ERR_BAD_INPUT", "Expected elementSize 1..255");
  if (cs < 1 || cs > mc::kMaxChunkSize)
    throw MakeError(info.Env(), "ERR_BAD_INPUT", "Expected chunkSize 1..2^30");
  o.element_size = static_cast<uint32_t>(es);
  o.chunk_size = static_cast<uint32_t>(cs);
  return o;
}

// The bound on a frame's raw length (maxBytes): a frame that claims more is corrupt, refused
// before anything is allocated for it.
uint64_t GetMaxRaw(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || info[index].IsUndefined()) return UINT64_MAX;
  if (!info[index].IsNumber()) throw MakeError(info.Env(), "ERR_BAD_INPUT", "Expected a number for maxBytes");
  const double v = info[index].As<Napi::Number>().DoubleValue();
  if (!(v >= 0)) throw MakeError(info.Env(), "ERR_BAD_INPUT", "Expected a non-negative maxBytes");
  return v >= 18446744073709551615.0 ? UINT64_MAX : static_cast<uint64_t>(v);
}

Napi::Value Compress(const Napi::CallbackInfo& info) {
  Bytes b = GetBytes(info, 0, "data");
  mc::EncodeOptions o = GetEncodeOptions(info, 1);
  return Guard(info.Env(), [&]() -> Napi::Value {
    return ToBuffer(info.Env(), mc::encode(b.data, b.size, o));
  });
}

Napi::Value CompressAsync(const Napi::CallbackInfo& info) {
  Bytes b = GetBytes(info, 0, "data");
  mc::EncodeOptions o = GetEncodeOptions(info, 1);
  auto out = std::make_shared<std::vector<uint8_t>>();
  auto* job = new Job(
      info.Env(), "modelcache.compress", [b, o, out] { *out = mc::encode(b.data, b.size, o); },
      [out](Napi::Env env) -> Napi::Value { return ToBuffer(env, std::move(*out)); });
  job->Pin(info, 0);
  job->Queue();
  return job->Promise();
}

Napi::Value Decompress(const Napi::CallbackInfo& info) {
  Bytes b = GetBytes(info, 0, "frame");
  uint64_t max_raw = GetMaxRaw(info, 1);
  return Guard(info.Env(), [&]() -> Napi::Value {
    // Decode straight into the JS Buffer: no intermediate vector, no copy.
    mc::FrameInfo f = mc::inspect(b.data, b.size, max_raw);
    auto out = Napi::Buffer<uint8_t>::New(info.Env(), static_cast<size_t>(f.raw_length));
    mc::decode_into(b.data, b.size, f, out.Data());
    return out;
  });
}

Napi::Value DecompressAsync(const Napi::CallbackInfo& info) {
  Bytes b = GetBytes(info, 0, "frame");
  uint64_t max_raw = GetMaxRaw(info, 1);
  auto out = std::make_shared<std::vector<uint8_t>>();
  auto* job = new Job(
      info.Env(), "modelcache.decompress",
      [b, max_raw, out] { *out = mc::decode(b.data, b.size, max_raw); },
      [out](Napi::Env env) -> Napi::Value { return ToBuffer(env, std::move(*out)); });
  job->Pin(info, 0);
  job->Queue();
  return job->Promise();
}

Napi::Value InspectFrame(const Napi::CallbackInfo& info) {
  Bytes b = GetBytes(info, 0, "frame");
  return Guard(info.Env(), [&]() -> Napi::Value {
    mc::FrameInfo f = mc::inspect(b.data, b.size);
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("codec", static_cast<double>(f.codec));
    o.Set("filter", static_cast<double>(f.filter));
    o.Set("elementSize", static_cast<double>(f.element_size));
    o.Set("rawLength", static_cast<double>(f.raw_length));
    o.Set("chunkSize", static_cast<double>(f.chunk_size));
    o.Set("chunkCount", static_cast<double>(f.chunk_count));
    o.Set("checksum", Napi::BigInt::New(env, f.checksum));
    return o;
  });
}

// Casts between float32 and 16-bit floats. kind: 0 f32->f16, 1 f16->f32, 2 f32->bf16, 3 bf16->f32.
// Input is the byte view of the source array; output is a new Buffer of the target width.
Napi::Value Cast(const Napi::CallbackInfo& info) {
  Bytes b = GetBytes(info, 0, "data");
  int64_t kind = GetInt(info, 1, "kind");
  Napi::Env env = info.Env();
  const bool narrow = kind == 0 || kind == 2;
  const size_t in_width = narrow ? 4 : 2;
  if (kind < 0 || kind > 3) throw MakeError(env, "ERR_BAD_INPUT", "Expected cast kind 0..3");
  if (b.size % in_width != 0 || reinterpret_cast<uintptr_t>(b.data) % in_width != 0)
    throw MakeError(env, "ERR_BAD_INPUT", "data is not an aligned array of the source type");
  const size_t n = b.size / in_width;
  auto out = Napi::Buffer<uint8_t>::New(env, narrow ? n * 2 : n * 4);
  const auto* f32 = reinterpret_cast<const float*>(b.data);
  const auto* u16 = reinterpret_cast<const uint16_t*>(b.data);
  auto* of32 = reinterpret_cast<float*>(out.Data());
  auto* ou16 = reinterpret_cast<uint16_t*>(out.Data());
  switch (kind) {
    case 0: mc::f32_to_f16(f32, ou16, n); break;
    case 1: mc::f16_to_f32(u16, of32, n); break;
    case 2: mc::f32_to_bf16(f32, ou16, n); break;
    case 3: mc::bf16_to_f32(u16, of32, n); break;
  }
  return out;
}

}  // namespace

void InitCodec(Napi::Env env, Napi::Object exports) {
  exports.Set("compress", Napi::Function::New(env, Compress, "compress"));
  exports.Set("compressAsync", Napi::Function::New(env, CompressAsync, "compressAsync"));
  exports.Set("decompress", Napi::Function::New(env, Decompress, "decompress"));
  exports.Set("decompressAsync", Napi::Function::New(env, DecompressAsync, "decompressAsync"));
  exports.Set("inspectFrame", Napi::Function::New(env, InspectFrame, "inspectFrame"));
  exports.Set("cast", Napi::Function::New(env, Cast, "cast"));
}

}  // namespace mcb
