// A tiny self-contained test harness for the native core (no third-party test framework).
// Tests register themselves statically with MC_TEST; checks record a failure and carry on.
// Exactly one translation unit per executable defines MC_TEST_MAIN to get main().
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "error.h"

namespace mc_test {

struct TestCase {
  const char* name;
  void (*fn)();
};

inline std::vector<TestCase>& registry() {
  static std::vector<TestCase> tests;
  return tests;
}

// Failures of the test that is running now.
inline int& current_failures() {
  static int n = 0;
  return n;
}

inline const char*& current_name() {
  static const char* name = "";
  return name;
}

struct Registrar {
  Registrar(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};

inline void fail(const char* file, int line, const std::string& what) {
  ++current_failures();
  std::fprintf(stdout, "  %s: %s:%d: %s\n", current_name(), file, line, what.c_str());
  std::fflush(stdout);
}

// ---- printing values in failure messages -------------------------------------------------------

template <typename T, typename = void>
struct Streamable : std::false_type {};
template <typename T>
struct Streamable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const T&>())>>
    : std::true_type {};

template <typename T>
std::string show(const T& v) {
  using U = std::decay_t<T>;
  std::ostringstream os;
  if constexpr (std::is_same_v<U, mc::ErrorCode>) {
    os << mc::error_code_name(v);
  } else if constexpr (std::is_enum_v<U>) {
    os << static_cast<long long>(static_cast<std::underlying_type_t<U>>(v));
  } else if constexpr (std::is_same_v<U, bool>) {
    os << (v ? "true" : "false");
  } else if constexpr (std::is_same_v<U, char> || std::is_same_v<U, signed char> ||
                       std::is_same_v<U, unsigned char>) {
    os << static_cast<int>(v);  // uint8_t is a byte value, not a character
  } else if constexpr (std::is_same_v<U, std::string>) {
    os << '"' << v << '"';
  } else if constexpr (std::is_same_v<U, const char*> || std::is_same_v<U, char*>) {
    if (v == nullptr) os << "nullptr"; else os << '"' << v << '"';
  } else if constexpr (std::is_same_v<U, std::nullptr_t>) {
    os << "nullptr";
  } else if constexpr (Streamable<U>::value) {
    os << v;
  } else {
    os << "<" << sizeof(U) << "-byte value>";
  }
  return os.str();
}

// Byte vectors compare by content; show where they first differ instead of every byte.
inline std::string show(const std::vector<uint8_t>& v) {
  std::ostringstream os;
  os << "<" << v.size() << " bytes>";
  return os.str();
}

template <typename A, typename B>
void check_eq(const A& a, const B& b, const char* ea, const char* eb, const char* file, int line) {
  if (a == b) return;
  std::string what = std::string("MC_CHECK_EQ(") + ea + ", " + eb + ") failed: " + show(a) +
                     " != " + show(b);
  if constexpr (std::is_same_v<A, std::vector<uint8_t>> && std::is_same_v<B, std::vector<uint8_t>>) {
    size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
    what += ", first difference at byte " + std::to_string(i);
  }
  fail(file, line, what);
}

// Runs f, which must throw mc::Error with `code` (and, if given, a message containing `needle`).
inline void check_throws(const std::function<void()>& f, mc::ErrorCode code, const char* needle,
                         const char* expr, const char* file, int line) {
  std::string prefix = std::string("expected ") + expr + " to throw " + mc::error_code_name(code);
  if (needle) prefix += std::string(" containing \"") + needle + "\"";
  try {
    f();
  } catch (const mc::Error& e) {
    if (e.code() != code) {
      fail(file, line, prefix + ", got " + mc::error_code_name(e.code()) + ": " + e.what());
    } else if (needle && std::strstr(e.what(), needle) == nullptr) {
      fail(file, line, prefix + ", got message: " + e.what());
    }
    return;
  } catch (const std::exception& e) {
    fail(file, line, prefix + ", got std::exception: " + e.what());
    return;
  } catch (...) {
    fail(file, line, prefix + ", got a non-std exception");
    return;
  }
  fail(file, line, prefix + ", but it returned normally");
}

// ---- helpers shared by the test files ----------------------------------------------------------

// A file under $TMPDIR (or /tmp) removed when the object goes away.
class TempFile {
 public:
  explicit TempFile(const std::vector<uint8_t>& contents = {}) {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/mc-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    int fd = ::mkstemp(buf.data());
    if (fd < 0) {
      std::perror("mkstemp");
      std::abort();
    }
    path_ = buf.data();
    size_t done = 0;
    while (done < contents.size()) {
      ssize_t w = ::write(fd, contents.data() + done, contents.size() - done);
      if (w <= 0) {
        std::perror("write");
        std::abort();
      }
      done += static_cast<size_t>(w);
    }
    ::close(fd);
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Deterministic pseudo-random bytes (splitmix64), so failures reproduce.
inline std::vector<uint8_t> pseudo_random_bytes(size_t n, uint64_t seed = 1) {
  std::vector<uint8_t> out(n);
  uint64_t s = seed;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    for (size_t k = 0; k < 8 && i + k < n; ++k) out[i + k] = static_cast<uint8_t>(z >> (8 * k));
  }
  return out;
}

inline std::string hex(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

}  // namespace mc_test

#define MC_TEST_CONCAT2(a, b) a##b
#define MC_TEST_CONCAT(a, b) MC_TEST_CONCAT2(a, b)

// MC_TEST(name) { body }: name must be a valid identifier; it is also the name printed.
#define MC_TEST(name)                                                                  \
  static void MC_TEST_CONCAT(mc_test_fn_, name)();                                     \
  static const ::mc_test::Registrar MC_TEST_CONCAT(mc_test_reg_, name)(                \
      #name, &MC_TEST_CONCAT(mc_test_fn_, name));                                      \
  static void MC_TEST_CONCAT(mc_test_fn_, name)()

#define MC_CHECK(cond)                                                        \
  do {                                                                        \
    if (!(cond)) ::mc_test::fail(__FILE__, __LINE__, "MC_CHECK(" #cond ") failed"); \
  } while (0)

#define MC_CHECK_EQ(a, b) ::mc_test::check_eq((a), (b), #a, #b, __FILE__, __LINE__)

#define MC_CHECK_THROWS_CODE(expr, code) \
  ::mc_test::check_throws([&]() { (void)(expr); }, (code), nullptr, #expr, __FILE__, __LINE__)

// As MC_CHECK_THROWS_CODE, and the message must contain the C string `needle`.
#define MC_CHECK_THROWS_MSG(expr, code, needle) \
  ::mc_test::check_throws([&]() { (void)(expr); }, (code), (needle), #expr, __FILE__, __LINE__)

#ifdef MC_TEST_MAIN
// Runs every registered test, or those whose name contains argv[1].
int main(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0;
  for (const auto& t : ::mc_test::registry()) {
    if (filter && std::strstr(t.name, filter) == nullptr) continue;
    ::mc_test::current_failures() = 0;
    ::mc_test::current_name() = t.name;
    try {
      t.fn();
    } catch (const mc::Error& e) {
      ::mc_test::fail(__FILE__, __LINE__,
                      std::string("uncaught mc::Error ") + mc::error_code_name(e.code()) + ": " + e.what());
    } catch (const std::exception& e) {
      ::mc_test::fail(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
    } catch (...) {
      ::mc_test::fail(__FILE__, __LINE__, "uncaught non-std exception");
    }
    bool ok = ::mc_test::current_failures() == 0;
    (ok ? passed : failed)++;
    std::fprintf(stdout, "%s %s\n", ok ? "PASS" : "FAIL", t.name);
    std::fflush(stdout);
  }
  std::fprintf(stdout, "%d passed, %d failed\n", passed, failed);
  if (passed + failed == 0) {
    std::fprintf(stdout, "no test matched%s%s\n", filter ? " " : "", filter ? filter : "");
    return 1;
  }
  return failed == 0 ? 0 : 1;
}
#endif
