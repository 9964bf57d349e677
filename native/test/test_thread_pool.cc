// parallel_for: every index exactly once, first exception rethrown, nesting without deadlock.
// Run by ctest with the default pool and with MODELCACHE_THREADS=1 (the case where a nested loop
// could starve if the caller did not take part).
#include "thread_pool.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "check.h"

namespace {

// Runs fn on a helper thread; a hang past the limit ends the process with a message instead of
// leaving ctest to time out with no hint of which test hung.
void within_seconds(int seconds, const char* what, std::function<void()> fn) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::thread worker([done, fn]() {
    try {
      fn();
      done->set_value();
    } catch (...) {
      done->set_exception(std::current_exception());
    }
  });
  if (finished.wait_for(std::chrono::seconds(seconds)) != std::future_status::ready) {
    std::fprintf(stdout, "FAIL %s: no progress after %d s (deadlock?)\n", what, seconds);
    std::fflush(stdout);
    std::_Exit(2);
  }
  worker.join();
  finished.get();
}

void check_each_index_once(size_t n, size_t max_threads) {
  std::vector<std::atomic<int>> hits(n);
  for (auto& h : hits) h.store(0);
  mc::parallel_for(n, [&](size_t i) { hits.at(i).fetch_add(1); }, max_threads);
  size_t wrong = 0;
  for (auto& h : hits) wrong += h.load() != 1;
  MC_CHECK_EQ(wrong, size_t(0));
}

}  // namespace

MC_TEST(pool_has_at_least_one_thread_and_honours_MODELCACHE_THREADS) {
  MC_CHECK(mc::pool_threads() >= 1);
  const char* env = std::getenv("MODELCACHE_THREADS");
  if (env && *env) MC_CHECK_EQ(mc::pool_threads(), static_cast<size_t>(std::strtoul(env, nullptr, 10)));
}

MC_TEST(parallel_for_covers_every_index_exactly_once) {
  for (size_t n : {size_t(0), size_t(1), size_t(2), size_t(1000)}) {
    check_each_index_once(n, 0);
    check_each_index_once(n, 1);
    check_each_index_once(n, 2);
    check_each_index_once(n, 64);
  }
}

MC_TEST(parallel_for_of_zero_never_calls_fn) {
  std::atomic<int> calls{0};
  mc::parallel_for(0, [&](size_t) { calls++; });
  MC_CHECK_EQ(calls.load(), 0);
}

MC_TEST(max_threads_one_runs_on_the_calling_thread) {
  std::mutex mu;
  std::set<std::thread::id> ids;
  mc::parallel_for(200, [&](size_t) {
    std::lock_guard<std::mutex> lock(mu);
    ids.insert(std::this_thread::get_id());
  }, 1);
  MC_CHECK_EQ(ids.size(), size_t(1));
  MC_CHECK(ids.count(std::this_thread::get_id()) == 1);
}

MC_TEST(all_work_is_finished_when_parallel_for_returns) {
  std::atomic<size_t> sum{0};
  mc::parallel_for(1000, [&](size_t i) {
    if (i % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    sum += i;
  });
  MC_CHECK_EQ(sum.load(), size_t(999 * 1000 / 2));
}

MC_TEST(an_exception_in_fn_propagates_to_the_caller) {
  std::atomic<int> calls{0};
  bool caught = false;
  try {
    mc::parallel_for(1000, [&](size_t i) {
      calls++;
      if (i == 37) throw std::runtime_error("boom at 37");
    });
  } catch (const std::runtime_error& e) {
    caught = true;
    MC_CHECK_EQ(std::string(e.what()), std::string("boom at 37"));
  }
  MC_CHECK(caught);
  MC_CHECK(calls.load() >= 1);
  MC_CHECK(calls.load() <= 1000);
}

MC_TEST(an_mc_error_keeps_its_code_through_parallel_for) {
  MC_CHECK_THROWS_MSG(mc::parallel_for(50, [](size_t i) {
    if (i == 49) throw mc::Error(mc::ErrorCode::kCorrupt, "chunk 49 is bad");
  }), mc::ErrorCode::kCorrupt, "chunk 49");
}

MC_TEST(exceptions_from_every_index_still_give_one_exception) {
  bool caught = false;
  try {
    mc::parallel_for(500, [](size_t i) { throw std::out_of_range("index " + std::to_string(i)); });
  } catch (const std::out_of_range&) {
    caught = true;
  }
  MC_CHECK(caught);
}

MC_TEST(pool_still_works_after_an_exception) {
  for (int round = 0; round < 3; ++round) {
    try {
      mc::parallel_for(100, [](size_t i) { if (i % 7 == 3) throw std::runtime_error("x"); });
    } catch (const std::runtime_error&) {
    }
    check_each_index_once(1000, 0);
  }
}

MC_TEST(nested_parallel_for_does_not_deadlock) {
  within_seconds(120, "nested_parallel_for_does_not_deadlock", [] {
    std::atomic<size_t> total{0};
    mc::parallel_for(16, [&](size_t) {
      mc::parallel_for(64, [&](size_t) {
        mc::parallel_for(4, [&](size_t) { total++; });
      });
    });
    if (total.load() != 16 * 64 * 4) throw std::runtime_error("nested loops lost iterations");
  });
}

MC_TEST(concurrent_callers_share_the_pool) {
  within_seconds(120, "concurrent_callers_share_the_pool", [] {
    std::vector<std::thread> callers;
    std::atomic<size_t> total{0};
    for (int t = 0; t < 4; ++t) {
      callers.emplace_back([&] {
        for (int r = 0; r < 20; ++r) mc::parallel_for(100, [&](size_t) { total++; });
      });
    }
    for (auto& c : callers) c.join();
    if (total.load() != 4 * 20 * 100) throw std::runtime_error("concurrent loops lost iterations");
  });
}
