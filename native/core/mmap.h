// Read-only memory maps of immutable files. Only content-addressed files that are never
// truncated or rewritten are mapped: truncation under a live map would fault the reader.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace mc {

class MappedFile {
 public:
  // Maps the whole file. An empty file gives size() == 0 and data() == nullptr.
  // Throws Error(kIo) naming the path when the file cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool closed() const { return closed_; }
  // Unmaps; idempotent.
  void close();
  // Hints the kernel to read ahead the whole mapping (large sequential consumers).
  void advise_sequential();

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool closed_ = false;
};

}  // namespace mc
