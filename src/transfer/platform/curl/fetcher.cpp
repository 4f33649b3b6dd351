// The two drivers of a TransferJob: Fetcher (blocking, one at a time) and FetchQueue (libcurl multi).
#include <curl/curl.h>

#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "transfer/platform/curl/transfer_job.hpp"
#include "transfer/transfer.hpp"

namespace autoprov {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

bool IsSupportedScheme(std::string_view url) { return ParseUrl(url).has_value(); }

struct Fetcher::Impl {
  CURL* easy = nullptr;  // kept between fetches: its connection cache gives connection reuse
  ~Impl() {
    if (easy) curl_easy_cleanup(easy);
  }
};

Fetcher::Fetcher() : impl_(std::make_unique<Impl>()) {
  GlobalInit();
  impl_->easy = curl_easy_init();
}

Fetcher::~Fetcher() = default;

Expected<FetchResult> Fetcher::Fetch(const FetchRequest& request) {
  if (!impl_->easy) return Fail(ErrorCode::kInternal, "libcurl could not be initialised");
  curl::TransferJob job(request);
  if (job.Begin()) {
    for (;;) {
      job.Configure(impl_->easy);
      CURLcode rc = curl_easy_perform(impl_->easy);
      if (job.Finish(impl_->easy, rc) == curl::TransferJob::Next::kDone) break;
    }
  }
  return job.TakeResult();
}

struct FetchQueue::Impl {
  struct Active {
    std::unique_ptr<curl::TransferJob> job;
    Done done;
    CURL* easy = nullptr;
  };
  CURLM* multi = nullptr;
  long max_connections = 256;
  std::deque<std::pair<FetchRequest, Done>> waiting;
  std::vector<std::unique_ptr<Active>> active;  // index by pointer stored in CURLINFO_PRIVATE
  std::vector<CURL*> idle_handles;
  size_t running = 0;

  void StartWaiting() {
    while (running < static_cast<size_t>(max_connections) && !waiting.empty()) {
      auto [req, done] = std::move(waiting.front());
      waiting.pop_front();
      auto a = std::make_unique<Active>();
      a->job = std::make_unique<curl::TransferJob>(std::move(req));
      a->done = std::move(done);
      if (!a->job->Begin()) {
        auto cb = std::move(a->done);
        cb(a->job->TakeResult());
        continue;
      }
      if (!idle_handles.empty()) {
        a->easy = idle_handles.back();
        idle_handles.pop_back();
      } else {
        a->easy = curl_easy_init();
      }
      a->job->Configure(a->easy);
      curl_easy_setopt(a->easy, CURLOPT_PRIVATE, a.get());
      curl_multi_add_handle(multi, a->easy);
      ++running;
      active.push_back(std::move(a));
    }
  }

  void Complete(CURL* easy, CURLcode rc) {
    Active* a = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, reinterpret_cast<char**>(&a));
    curl_multi_remove_handle(multi, easy);
    if (a->job->Finish(easy, rc) == curl::TransferJob::Next::kAgain) {
      a->job->Configure(easy);
      curl_easy_setopt(easy, CURLOPT_PRIVATE, a);
      curl_multi_add_handle(multi, easy);
      return;
    }
    --running;
    auto result = a->job->TakeResult();
    Done done = std::move(a->done);
    idle_handles.push_back(easy);
    std::erase_if(active, [a](const std::unique_ptr<Active>& p) { return p.get() == a; });
    done(std::move(result));
  }
};

FetchQueue::FetchQueue(long max_connections) : impl_(std::make_unique<Impl>()) {
  GlobalInit();
  impl_->multi = curl_multi_init();
  impl_->max_connections = max_connections > 0 ? max_connections : 1;
  curl_multi_setopt(impl_->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, impl_->max_connections);
  curl_multi_setopt(impl_->multi, CURLMOPT_MAXCONNECTS, impl_->max_connections);
}

FetchQueue::~FetchQueue() {
  for (auto& a : impl_->active) {
    curl_multi_remove_handle(impl_->multi, a->easy);
    curl_easy_cleanup(a->easy);
  }
  for (CURL* h : impl_->idle_handles) curl_easy_cleanup(h);
  curl_multi_cleanup(impl_->multi);
}

void FetchQueue::Submit(FetchRequest request, Done done) {
  impl_->waiting.emplace_back(std::move(request), std::move(done));
}

size_t FetchQueue::pending() const { return impl_->waiting.size() + impl_->running; }

size_t FetchQueue::Run(long max_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
  for (;;) {
    impl_->StartWaiting();
    if (pending() == 0) return 0;
    int still = 0;
    curl_multi_perform(impl_->multi, &still);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(impl_->multi, &left)) {
      if (msg->msg == CURLMSG_DONE) impl_->Complete(msg->easy_handle, msg->data.result);
    }
    impl_->StartWaiting();
    if (pending() == 0) return 0;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return pending();
    long wait = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count());
    curl_multi_poll(impl_->multi, nullptr, 0, static_cast<int>(std::min(wait, 100L)), nullptr);
  }
}

}  // namespace autoprov
