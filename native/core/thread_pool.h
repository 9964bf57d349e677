// A process-wide pool of worker threads for data-parallel loops (chunked codec, chunked file hash).
// The calling thread takes part, so a loop never waits on a pool busy with other callers' work.
#pragma once
#include <cstddef>
#include <functional>

namespace mc {

// Runs fn(i) for every i in [0, n) and returns when all have finished. At most max_threads threads
// (0 = pool size + caller) work on one loop. If any call throws, the first exception is rethrown
// here after the others have completed; the remaining indices are skipped.
void parallel_for(size_t n, const std::function<void(size_t)>& fn, size_t max_threads = 0);

// Threads in the pool (hardware concurrency - 1, at least 1; MODELCACHE_THREADS overrides).
size_t pool_threads();

}  // namespace mc
