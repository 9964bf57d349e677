// float32 <-> float16 / bfloat16 conversion for compact storage of float outputs.
// Narrowing rounds to nearest, ties to even; NaN stays NaN (quiet), infinities stay infinite,
// overflow goes to infinity, float16 subnormals are produced and read exactly.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mc {

void f32_to_f16(const float* in, uint16_t* out, size_t n);
void f16_to_f32(const uint16_t* in, float* out, size_t n);
void f32_to_bf16(const float* in, uint16_t* out, size_t n);
void bf16_to_f32(const uint16_t* in, float* out, size_t n);

uint16_t f32_to_f16_one(float f);
float f16_to_f32_one(uint16_t h);
uint16_t f32_to_bf16_one(float f);
float bf16_to_f32_one(uint16_t h);

}  // namespace mc
