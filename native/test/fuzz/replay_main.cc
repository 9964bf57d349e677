// Standalone driver for the fuzz targets where libFuzzer is not available (g++ builds).
// It takes the libFuzzer command line that scripts/fuzz.mjs uses:
//   target [-max_total_time=S] [-runs=N] [-seed=N] [-max_len=N] [-artifact_prefix=P] DIR|FILE...
// Files given directly are run once each (reproducing a crash). With corpus directories, every
// file is run, then seeded deterministic mutations of the corpus (bit flips, byte sets, integer
// fields, truncations, insertions, erasures, splices) run until the time or run budget is spent.
// A crash (sanitizer report, abort, uncaught exception, fatal signal) writes the input that caused
// it to <artifact_prefix>crash-<hash>, as libFuzzer does.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Present when linked with a sanitizer runtime; called just before the process dies.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

// With g++, UBSan has its own runtime that ignores ASan's death callback; aborting routes its
// reports through the SIGABRT handler below, so they leave a crash input too.
extern "C" const char* __ubsan_default_options() { return "abort_on_error=1:print_stacktrace=1"; }

namespace {

using Bytes = std::vector<uint8_t>;

// ---- crash artifacts (everything reachable from a signal handler is async-signal-safe) --------

const uint8_t* g_input = nullptr;
size_t g_input_size = 0;
char g_artifact_prefix[4096] = "./";
volatile sig_atomic_t g_artifact_written = 0;

void write_artifact() {
  if (g_artifact_written || g_input == nullptr) return;
  g_artifact_written = 1;
  uint64_t h = 1469598103934665603ull;  // FNV-1a names the file by content
  for (size_t i = 0; i < g_input_size; ++i) h = (h ^ g_input[i]) * 1099511628211ull;
  char path[4200];
  size_t n = 0;
  for (const char* p = g_artifact_prefix; *p && n < 4096; ++p) path[n++] = *p;
  for (const char* p = "crash-"; *p; ++p) path[n++] = *p;
  for (int i = 15; i >= 0; --i) path[n++] = "0123456789abcdef"[(h >> (4 * i)) & 15];
  path[n] = '\0';
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    size_t done = 0;
    while (done < g_input_size) {
      ssize_t w = ::write(fd, g_input + done, g_input_size - done);
      if (w <= 0) break;
      done += static_cast<size_t>(w);
    }
    ::close(fd);
    static const char msg[] = "\nreplay: crash input written to ";
    (void)!::write(2, msg, sizeof(msg) - 1);
    (void)!::write(2, path, n);
    (void)!::write(2, "\n", 1);
  }
}

void on_fatal_signal(int sig) {
  write_artifact();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void on_terminate() {
  static const char msg[] = "replay: uncaught exception from the fuzz target\n";
  (void)!::write(2, msg, sizeof(msg) - 1);
  if (auto e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "  what(): %s\n", ex.what());
    } catch (...) {
    }
  }
  write_artifact();
  ::signal(SIGABRT, SIG_DFL);
  std::abort();
}

void install_crash_handlers() {
  std::set_terminate(on_terminate);
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(write_artifact);
  // The sanitizers own SEGV/BUS/FPE when present (and call the death callback); abort is ours.
  ::signal(SIGABRT, on_fatal_signal);
  if (!__sanitizer_set_death_callback) {
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) ::signal(sig, on_fatal_signal);
  }
}

// Runs the target on an exact-size heap copy, so a read one past the end is caught by ASan.
void execute(const uint8_t* data, size_t size) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[size]);
  if (size) std::memcpy(copy.get(), data, size);
  g_input = copy.get();
  g_input_size = size;
  LLVMFuzzerTestOneInput(copy.get(), size);
  g_input = nullptr;
  g_input_size = 0;
}

// ---- corpus ------------------------------------------------------------------------------------

bool read_file(const std::string& path, Bytes* out) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  out->clear();
  uint8_t buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out->insert(out->end(), buf, buf + n);
  std::fclose(f);
  return true;
}

bool is_dir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> list_files(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string path = dir + "/" + e->d_name;
      struct stat st;
      if (e->d_name[0] != '.' && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) names.push_back(path);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());  // same order every run, so runs reproduce
  return names;
}

// ---- mutations ---------------------------------------------------------------------------------

struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n ? static_cast<size_t>(next() % n) : 0; }
};

const uint8_t kInterestingBytes[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff, 0x10, 0x20, 0x40};
const uint64_t kInterestingInts[] = {0,          1,          2,          3,          4,
                                     16,         36,         255,        256,        4096,
                                     65535,      65536,      1u << 20,   (1u << 20) + 1,
                                     1u << 30,   (1u << 30) + 1, 0x7fffffff, 0x80000000,
                                     0xffffffff, 0x100000000ull, 0x7fffffffffffffffull,
                                     0xffffffffffffffffull};

void mutate_once(Bytes& b, const std::vector<Bytes>& corpus, Rng& rng, size_t max_len) {
  switch (rng.below(9)) {
    case 0:  // flip one bit
      if (!b.empty()) b[rng.below(b.size())] ^= static_cast<uint8_t>(1u << rng.below(8));
      break;
    case 1:  // set a byte to an interesting or random value
      if (!b.empty()) {
        b[rng.below(b.size())] = rng.below(2) ? kInterestingBytes[rng.below(sizeof(kInterestingBytes))]
                                              : static_cast<uint8_t>(rng.next());
      }
      break;
    case 2: {  // overwrite a little-endian u16/u32/u64 field (lengths, counts, sizes)
      size_t width = size_t(2) << rng.below(3);
      if (b.size() < width) break;
      size_t pos = rng.below(b.size() - width + 1);
      if (rng.below(4) == 0) pos &= ~size_t(3);  // the frame and envelope fields are aligned
      uint64_t v = kInterestingInts[rng.below(sizeof(kInterestingInts) / sizeof(kInterestingInts[0]))];
      if (rng.below(3) == 0) v = b.size() + rng.below(5) - 2;
      for (size_t i = 0; i < width; ++i) b[pos + i] = static_cast<uint8_t>(v >> (8 * i));
      break;
    }
    case 3: {  // add or subtract a small delta from a byte
      if (!b.empty()) b[rng.below(b.size())] += static_cast<uint8_t>(rng.below(33) - 16);
      break;
    }
    case 4:  // truncate
      if (!b.empty()) b.resize(rng.below(b.size()));
      break;
    case 5: {  // insert random or repeated bytes
      size_t n = 1 + rng.below(rng.below(2) ? 8 : 128);
      size_t pos = rng.below(b.size() + 1);
      uint8_t fill = static_cast<uint8_t>(rng.next());
      Bytes ins(n);
      for (auto& x : ins) x = rng.below(2) ? fill : static_cast<uint8_t>(rng.next());
      b.insert(b.begin() + pos, ins.begin(), ins.end());
      break;
    }
    case 6: {  // erase a range
      if (b.empty()) break;
      size_t pos = rng.below(b.size());
      size_t n = 1 + rng.below(std::min<size_t>(b.size() - pos, 64));
      b.erase(b.begin() + pos, b.begin() + pos + n);
      break;
    }
    case 7: {  // copy a range of the input onto another place of itself
      if (b.size() < 2) break;
      size_t from = rng.below(b.size()), to = rng.below(b.size());
      size_t n = 1 + rng.below(std::min(b.size() - from, b.size() - to));
      std::memmove(b.data() + to, b.data() + from, n);
      break;
    }
    default: {  // splice: a prefix of this input and a suffix of another corpus entry
      if (corpus.empty()) break;
      const Bytes& other = corpus[rng.below(corpus.size())];
      size_t cut = rng.below(b.size() + 1);
      size_t from = rng.below(other.size() + 1);
      b.resize(cut);
      b.insert(b.end(), other.begin() + from, other.end());
      break;
    }
  }
  if (b.size() > max_len) b.resize(max_len);
}

bool flag_value(const char* arg, const char* name, const char** value) {
  size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *value = arg + n + 1;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  double max_total_time = 0;
  long long runs = -1;
  uint64_t seed = 1;
  size_t max_len = 0;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = nullptr;
    if (a[0] != '-') {
      inputs.push_back(a);
    } else if (flag_value(a, "-max_total_time", &v)) {
      max_total_time = std::atof(v);
    } else if (flag_value(a, "-runs", &v)) {
      runs = std::atoll(v);
    } else if (flag_value(a, "-seed", &v)) {
      seed = std::strtoull(v, nullptr, 10);
    } else if (flag_value(a, "-max_len", &v)) {
      max_len = std::strtoull(v, nullptr, 10);
    } else if (flag_value(a, "-artifact_prefix", &v)) {
      std::snprintf(g_artifact_prefix, sizeof(g_artifact_prefix), "%s", v);
    } else if (std::strcmp(a, "-help=1") == 0 || std::strcmp(a, "--help") == 0) {
      std::printf("usage: %s [-max_total_time=S] [-runs=N] [-seed=N] [-max_len=N] "
                  "[-artifact_prefix=P] DIR|FILE...\n", argv[0]);
      return 0;
    } else {
      std::fprintf(stderr, "replay: ignoring libFuzzer flag %s\n", a);
    }
  }
  install_crash_handlers();
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  std::vector<Bytes> corpus;
  bool any_dir = false;
  for (const auto& in : inputs) {
    std::vector<std::string> files;
    if (is_dir(in)) {
      any_dir = true;
      files = list_files(in);
    } else {
      files.push_back(in);
    }
    for (const auto& f : files) {
      Bytes b;
      if (!read_file(f, &b)) {
        std::fprintf(stderr, "replay: cannot read %s\n", f.c_str());
        return 1;
      }
      execute(b.data(), b.size());
      corpus.push_back(std::move(b));
    }
  }
  std::fprintf(stderr, "replay: ran %zu corpus inputs in %.2f s\n", corpus.size(), elapsed());

  long long mutated = 0;
  bool fuzz = any_dir || inputs.empty();
  if (fuzz && (max_total_time > 0 || runs > 0)) {
    if (max_len == 0) {
      max_len = 4096;
      for (const auto& b : corpus) max_len = std::max(max_len, 2 * b.size());
    }
    Rng rng{seed};
    std::fprintf(stderr, "replay: mutating with seed %llu, max_len %zu\n",
                 static_cast<unsigned long long>(seed), max_len);
    double next_report = 10;
    Bytes b;
    while (true) {
      if (runs >= 0 && mutated >= runs) break;
      if ((mutated & 63) == 0) {
        double t = elapsed();
        if (max_total_time > 0 && t >= max_total_time) break;
        if (t >= next_report) {
          std::fprintf(stderr, "replay: #%lld executions, %.0f s\n", mutated, t);
          next_report += 10;
        }
      }
      if (corpus.empty()) b.clear(); else b = corpus[rng.below(corpus.size())];
      for (size_t k = 1 + rng.below(4); k > 0; --k) mutate_once(b, corpus, rng, max_len);
      execute(b.data(), b.size());
      ++mutated;
    }
  }
  std::fprintf(stderr, "Done %lld runs (%zu corpus + %lld mutated) in %.1f second(s)\n",
               static_cast<long long>(corpus.size()) + mutated, corpus.size(), mutated, elapsed());
  return 0;
}
