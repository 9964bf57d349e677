// Process-wide worker pool for parallel_for. Workers are started lazily on first use and live for
// the process; each loop hands out indices through an atomic counter so threads self-balance.
#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace mc {
namespace {

struct Loop {
  size_t n;
  const std::function<void(size_t)>* fn;
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::condition_variable finished;
  std::exception_ptr error;

  // Runs indices until none are left. Returns true if this call completed the last index.
  void work() {
    for (;;) {
      size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) return;
      if (!failed.load(std::memory_order_relaxed)) {
        try {
          (*fn)(i);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mu);
          if (!error) error = std::current_exception();
          failed.store(true, std::memory_order_relaxed);
        }
      }
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == n) {
        std::lock_guard<std::mutex> lock(mu);
        finished.notify_all();
      }
    }
  }
};

class Pool {
 public:
  explicit Pool(size_t threads) {
    for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { run(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  size_t size() const { return workers_.size(); }

  // Offers the loop to up to `helpers` idle workers.
  void offer(const std::shared_ptr<Loop>& loop, size_t helpers) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 0; i < helpers; ++i) queue_.push_back(loop);
    }
    if (helpers == 1) cv_.notify_one(); else cv_.notify_all();
  }

 private:
  void run() {
    for (;;) {
      std::shared_ptr<Loop> loop;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_ && queue_.empty()) return;
        loop = std::move(queue_.front());
        queue_.pop_front();
      }
      loop->work();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Loop>> queue_;
  std::vector<std::thread> workers_;
  bool stop_ = false;
};

size_t configured_threads() {
  if (const char* env = std::getenv("MODELCACHE_THREADS")) {
    long v = std::strtol(env, nullptr, 10);
    if (v >= 1 && v <= 1024) return static_cast<size_t>(v);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 1 ? hw - 1 : 1;
}

Pool& pool() {
  // Intentionally leaked: joining threads during static destruction at process exit can
  // deadlock with libuv's own teardown; the OS reclaims them.
  static Pool* p = new Pool(configured_threads());
  return *p;
}

}  // namespace

size_t pool_threads() { return pool().size(); }

void parallel_for(size_t n, const std::function<void(size_t)>& fn, size_t max_threads) {
  if (n == 0) return;
  if (n == 1 || max_threads == 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  auto loop = std::make_shared<Loop>();
  loop->n = n;
  loop->fn = &fn;
  size_t helpers = std::min(pool().size(), n - 1);
  if (max_threads > 1) helpers = std::min(helpers, max_threads - 1);
  pool().offer(loop, helpers);
  loop->work();  // the caller takes part, so nested or concurrent loops always progress
  {
    std::unique_lock<std::mutex> lock(loop->mu);
    loop->finished.wait(lock, [&] { return loop->done.load(std::memory_order_acquire) == n; });
  }
  if (loop->error) std::rethrow_exception(loop->error);
}

}  // namespace mc
