// Read-only file maps: contents visible as written, empty files, idempotent close, typed errors.
#include "mmap.h"

#include <memory>
#include <string>
#include <vector>

#include "check.h"

using Bytes = std::vector<uint8_t>;

MC_TEST(mapped_file_shows_the_file_bytes) {
  Bytes data = mc_test::pseudo_random_bytes(3 * 4096 + 17, 21);
  mc_test::TempFile file(data);
  mc::MappedFile map(file.path());
  MC_CHECK(!map.closed());
  MC_CHECK_EQ(map.size(), data.size());
  MC_CHECK(map.data() != nullptr);
  if (map.data() != nullptr && map.size() == data.size()) {
    MC_CHECK_EQ(Bytes(map.data(), map.data() + map.size()), data);
  }
}

MC_TEST(one_byte_file_maps) {
  mc_test::TempFile file(Bytes{42});
  mc::MappedFile map(file.path());
  MC_CHECK_EQ(map.size(), size_t(1));
  if (map.size() == 1) MC_CHECK_EQ(map.data()[0], uint8_t(42));
}

MC_TEST(empty_file_maps_to_size_zero_and_null_data) {
  mc_test::TempFile file;
  mc::MappedFile map(file.path());
  MC_CHECK_EQ(map.size(), size_t(0));
  MC_CHECK(map.data() == nullptr);
  map.close();
  MC_CHECK(map.closed());
}

MC_TEST(close_is_idempotent) {
  mc_test::TempFile file(Bytes(100, 7));
  mc::MappedFile map(file.path());
  map.close();
  MC_CHECK(map.closed());
  map.close();
  MC_CHECK(map.closed());
  // The destructor after an explicit close must not unmap again (ASan / valgrind would see it).
}

MC_TEST(mapping_outlives_the_file_name) {
  Bytes data(8192, 0xA5);
  auto file = std::make_unique<mc_test::TempFile>(data);
  mc::MappedFile map(file->path());
  file.reset();  // unlinked; the mapping keeps the inode alive
  MC_CHECK_EQ(map.size(), data.size());
  if (map.size() == data.size()) MC_CHECK_EQ(Bytes(map.data(), map.data() + map.size()), data);
}

MC_TEST(advise_sequential_keeps_contents) {
  Bytes data = mc_test::pseudo_random_bytes(1 << 20, 22);
  mc_test::TempFile file(data);
  mc::MappedFile map(file.path());
  map.advise_sequential();
  MC_CHECK_EQ(map.size(), data.size());
  if (map.size() == data.size()) MC_CHECK_EQ(Bytes(map.data(), map.data() + map.size()), data);
}

MC_TEST(missing_file_throws_io_naming_the_path) {
  const char* path = "/nonexistent/modelcache-test/missing.bin";
  MC_CHECK_THROWS_MSG(mc::MappedFile{path}, mc::ErrorCode::kIo, path);
}

MC_TEST(directory_throws_io) {
  MC_CHECK_THROWS_CODE(mc::MappedFile{"/"}, mc::ErrorCode::kIo);
}
