// Typed failures of the native core. The binding maps each code to a JS CacheError code,
// so a caller can tell corrupt bytes from a wrong key from bad arguments.
#pragma once
#include <stdexcept>
#include <string>

namespace mc {

enum class ErrorCode {
  kCorrupt,     // stored bytes fail validation (ERR_CORRUPT)
  kBadInput,    // arguments out of range (ERR_BAD_INPUT)
  kDecrypt,     // wrong key, wrong algorithm or failed authentication (ERR_DECRYPT)
  kIo,          // the operating system refused (ERR_IO); message carries errno text
  kNoMemory,    // an allocation failed (ERR_NO_MEMORY)
  kCrypto,      // OpenSSL failed for a reason other than authentication (ERR_CRYPTO)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

inline const char* error_code_name(ErrorCode c) {
  switch (c) {
    case ErrorCode::kCorrupt: return "ERR_CORRUPT";
    case ErrorCode::kBadInput: return "ERR_BAD_INPUT";
    case ErrorCode::kDecrypt: return "ERR_DECRYPT";
    case ErrorCode::kIo: return "ERR_IO";
    case ErrorCode::kNoMemory: return "ERR_NO_MEMORY";
    case ErrorCode::kCrypto: return "ERR_CRYPTO";
  }
  return "ERR_INTERNAL";
}

}  // namespace mc
