// The two drivers of a TransferJob: Fetcher (blocking, one at a time) and FetchQueue (libcurl
// multi).
#include "transfer/fetcher.hpp"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "common/text.hpp"
#include "transfer/platform/curl/transfer_job.hpp"

namespace autoprov {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

struct Fetcher::Impl {
  CURL* easy = nullptr;  // kept between fetches: its connection cache gives connection reuse
  std::optional<curl::HandleShape> shape;
  ~Impl() {
    if (easy) curl_easy_cleanup(easy);
  }
};

Fetcher::Fetcher() : impl_(std::make_unique<Impl>()) {
  GlobalInit();
  impl_->easy = curl_easy_init();
}

Fetcher::~Fetcher() = default;

Fetched Fetcher::Fetch(const FetchRequest& request) {
  if (!impl_->easy) return Fail(ErrorCode::kInternal, "libcurl could not be initialised");
  curl::TransferJob job(request);
  if (job.Begin()) {
    for (;;) {
      job.Configure(impl_->easy, impl_->shape);
      CURLcode rc = curl_easy_perform(impl_->easy);
      if (job.Finish(impl_->easy, rc) == curl::TransferJob::Next::kDone) break;
    }
  }
  return job.TakeResult();
}

struct FetchQueue::Impl {
  using Clock = std::chrono::steady_clock;
  // libcurl looks for a reusable connection by walking its multi handle's connections, so the cost
  // of each transfer grows with them: the queue spreads its connections over multi handles of at
  // most this many, all driven by one epoll set.
  static constexpr long kConnectionsPerMulti = 32;
  struct Multi {
    Impl* impl = nullptr;
    CURLM* handle = nullptr;
    std::optional<Clock::time_point>
        timer;  // when libcurl wants socket_action(CURL_SOCKET_TIMEOUT)
    size_t running = 0;
    size_t cap = 0;
  };
  struct Active {
    std::optional<curl::TransferJob>
        job;  // in place: an Active and its job are reused, not reallocated
    Done done;
    CURL* easy = nullptr;
    std::optional<curl::HandleShape> shape;  // of `easy`
    Multi* multi = nullptr;
    size_t slot = 0;  // index in `active`
  };
  // What epoll knows of a socket. Connections libcurl opens through OnOpen are watched lazily: when
  // libcurl parks a connection in its cache (CURL_POLL_REMOVE) the socket stays in the epoll set,
  // so reusing it for the next request costs no epoll_ctl; an event on a parked socket removes it
  // then. Sockets opened elsewhere (the resolver's socket pair) are added and removed eagerly.
  struct Watch {
    bool owned = false;       // opened by OnOpen, closed by OnClose
    bool registered = false;  // in the epoll set
    bool wanted = false;      // libcurl watches it now
    uint32_t armed = 0;       // the events registered
    Multi* multi = nullptr;   // whose connection it is
  };
  std::vector<std::unique_ptr<Multi>>
      multis;  // stable addresses: libcurl holds them as callback data
  int epoll_fd = -1;
  std::deque<std::pair<FetchRequest, Done>> waiting;
  std::vector<std::unique_ptr<Active>> active;  // Active* is stored in CURLINFO_PRIVATE
  std::vector<std::unique_ptr<Active>> spare;
  std::vector<std::pair<CURL*, std::optional<curl::HandleShape>>> idle_handles;
  std::vector<Watch> watches;  // by socket
  size_t running = 0;

  Watch& WatchOf(curl_socket_t s) {
    auto i = static_cast<size_t>(s);
    if (i >= watches.size()) watches.resize(std::max(i + 1, watches.size() * 2));
    return watches[i];
  }

  void Attach(Active* a) {
    a->job->Configure(a->easy, a->shape);
    curl_easy_setopt(a->easy, CURLOPT_PRIVATE, a);
    curl_easy_setopt(a->easy, CURLOPT_OPENSOCKETFUNCTION, &Impl::OnOpen);
    curl_easy_setopt(a->easy, CURLOPT_OPENSOCKETDATA, this);
    curl_easy_setopt(a->easy, CURLOPT_CLOSESOCKETFUNCTION, &Impl::OnClose);
    curl_easy_setopt(a->easy, CURLOPT_CLOSESOCKETDATA, this);
    curl_multi_add_handle(a->multi->handle, a->easy);
  }

  // The multi handle with the most room, or nullptr when every one is full.
  Multi* Roomiest() {
    Multi* best = nullptr;
    for (auto& m : multis)
      if (m->running < m->cap && (!best || m->running < best->running)) best = m.get();
    return best;
  }

  void StartWaiting() {
    while (!waiting.empty()) {
      Multi* m = Roomiest();
      if (!m) return;
      auto [req, done] = std::move(waiting.front());
      waiting.pop_front();
      std::unique_ptr<Active> a;
      if (spare.empty()) {
        a = std::make_unique<Active>();
      } else {
        a = std::move(spare.back());
        spare.pop_back();
      }
      a->job.emplace(std::move(req));
      a->done = std::move(done);
      if (!a->job->Begin()) {
        auto cb = std::move(a->done);
        auto result = a->job->TakeResult();
        a->job.reset();
        spare.push_back(std::move(a));
        cb(std::move(result));
        continue;
      }
      if (!idle_handles.empty()) {
        std::tie(a->easy, a->shape) = std::move(idle_handles.back());
        idle_handles.pop_back();
      } else {
        a->easy = curl_easy_init();
        a->shape.reset();
      }
      a->multi = m;
      a->slot = active.size();
      Attach(a.get());
      ++m->running;
      ++running;
      active.push_back(std::move(a));
    }
  }

  static curl_socket_t OnOpen(void* self, curlsocktype, curl_sockaddr* address) {
    curl_socket_t s =
        ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (s != CURL_SOCKET_BAD)
      static_cast<Impl*>(self)->WatchOf(s) = Watch{true, false, false, 0, nullptr};
    return s;
  }
  static int OnClose(void* self, curl_socket_t s) {
    static_cast<Impl*>(self)->WatchOf(s) = Watch{};  // closing removes it from the epoll set
    return ::close(s);
  }

  // libcurl tells which sockets to watch; epoll watches them, so each event touches only its
  // transfer.
  static int OnSocket(CURL*, curl_socket_t s, int what, void* data, void*) {
    auto* multi = static_cast<Multi*>(data);
    Impl* impl = multi->impl;
    Watch& w = impl->WatchOf(s);
    if (what == CURL_POLL_REMOVE) {
      w.wanted = false;
      if (!w.owned && w.registered) {
        ::epoll_ctl(impl->epoll_fd, EPOLL_CTL_DEL, s, nullptr);
        w.registered = false;
      }
      return 0;
    }
    uint32_t events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    w.wanted = true;
    w.multi = multi;
    if (w.registered && w.armed == events) return 0;
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = s;
    if (w.registered) {
      if (::epoll_ctl(impl->epoll_fd, EPOLL_CTL_MOD, s, &ev) != 0)
        ::epoll_ctl(impl->epoll_fd, EPOLL_CTL_ADD, s, &ev);
    } else if (::epoll_ctl(impl->epoll_fd, EPOLL_CTL_ADD, s, &ev) != 0) {
      ::epoll_ctl(impl->epoll_fd, EPOLL_CTL_MOD, s, &ev);
    }
    w.registered = true;
    w.armed = events;
    return 0;
  }
  // An event on a socket: to its multi handle if libcurl watches it; a parked connection's socket
  // leaves the set.
  void OnEvent(const epoll_event& e) {
    Watch& w = WatchOf(e.data.fd);
    if (!w.wanted || !w.multi) {
      ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, e.data.fd, nullptr);
      w.registered = false;
      return;
    }
    int flags = 0;
    if (e.events & EPOLLIN) flags |= CURL_CSELECT_IN;
    if (e.events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
    if (e.events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
    int handles = 0;
    curl_multi_socket_action(w.multi->handle, e.data.fd, flags, &handles);
  }
  static int OnTimer(CURLM*, long timeout_ms, void* data) {
    auto* multi = static_cast<Multi*>(data);
    if (timeout_ms < 0)
      multi->timer.reset();
    else
      multi->timer = Clock::now() + std::chrono::milliseconds(timeout_ms);
    return 0;
  }

  void ReadDone() {
    for (auto& m : multis) {
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(m->handle, &left))
        if (msg->msg == CURLMSG_DONE) Complete(msg->easy_handle, msg->data.result);
    }
  }

  void Complete(CURL* easy, CURLcode rc) {
    Active* a = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, reinterpret_cast<char**>(&a));
    curl_multi_remove_handle(a->multi->handle, easy);
    if (a->job->Finish(easy, rc) == curl::TransferJob::Next::kAgain) {
      Attach(a);  // the next hop, on the same multi handle
      return;
    }
    --a->multi->running;
    --running;
    auto result = a->job->TakeResult();
    Done done = std::move(a->done);
    idle_handles.emplace_back(easy, std::move(a->shape));
    // O(1) removal: the last one takes this one's slot.
    size_t slot = a->slot;
    if (slot + 1 != active.size()) {
      std::swap(active[slot], active.back());
      active[slot]->slot = slot;
    }
    a->job.reset();
    spare.push_back(std::move(active.back()));
    active.pop_back();
    done(std::move(result));
  }
};

FetchQueue::FetchQueue(long max_connections) : impl_(std::make_unique<Impl>()) {
  GlobalInit();
  impl_->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  long total = max_connections > 0 ? max_connections : 1;
  long count = (total + Impl::kConnectionsPerMulti - 1) / Impl::kConnectionsPerMulti;
  for (long i = 0; i < count; ++i) {
    auto m = std::make_unique<Impl::Multi>();
    m->impl = impl_.get();
    m->handle = curl_multi_init();
    // The connections are shared out evenly: 100 over 4 handles is 25 each.
    m->cap = static_cast<size_t>(total / count + (i < total % count ? 1 : 0));
    curl_multi_setopt(m->handle, CURLMOPT_SOCKETFUNCTION, &Impl::OnSocket);
    curl_multi_setopt(m->handle, CURLMOPT_SOCKETDATA, m.get());
    curl_multi_setopt(m->handle, CURLMOPT_TIMERFUNCTION, &Impl::OnTimer);
    curl_multi_setopt(m->handle, CURLMOPT_TIMERDATA, m.get());
    curl_multi_setopt(m->handle, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(m->cap));
    curl_multi_setopt(m->handle, CURLMOPT_MAXCONNECTS, static_cast<long>(m->cap));
    impl_->multis.push_back(std::move(m));
  }
}

FetchQueue::~FetchQueue() {
  for (auto& a : impl_->active) {
    curl_multi_remove_handle(a->multi->handle, a->easy);
    curl_easy_cleanup(a->easy);
  }
  for (auto& [h, shape] : impl_->idle_handles) curl_easy_cleanup(h);
  for (auto& m : impl_->multis) curl_multi_cleanup(m->handle);
  if (impl_->epoll_fd >= 0) ::close(impl_->epoll_fd);
}

void FetchQueue::Submit(FetchRequest request, Done done) {
  impl_->waiting.emplace_back(std::move(request), std::move(done));
}

size_t FetchQueue::pending() const { return impl_->waiting.size() + impl_->running; }

size_t FetchQueue::Run(long max_ms) {
  using Clock = Impl::Clock;
  auto deadline = Clock::now() + std::chrono::milliseconds(max_ms);
  epoll_event events[256];
  for (;;) {
    impl_->StartWaiting();
    if (pending() == 0) return 0;
    auto now = Clock::now();
    bool fired = false;
    std::optional<Clock::time_point> next_timer;
    for (auto& m : impl_->multis) {
      if (m->timer && *m->timer <= now) {
        m->timer.reset();
        int handles = 0;
        curl_multi_socket_action(m->handle, CURL_SOCKET_TIMEOUT, 0, &handles);
        fired = true;
      }
      if (m->timer && (!next_timer || *m->timer < *next_timer)) next_timer = m->timer;
    }
    if (fired) {
      impl_->ReadDone();
      continue;
    }
    if (now >= deadline) return pending();
    auto until = deadline;
    if (next_timer && *next_timer < until) until = *next_timer;
    int wait = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count());
    int n = ::epoll_wait(impl_->epoll_fd, events, 256, std::max(wait, 0));
    for (int i = 0; i < n; ++i) impl_->OnEvent(events[i]);
    impl_->ReadDone();
  }
}

std::string TransferLibraryVersion() {
  const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
  return std::string("libcurl ") + v->version +
         (v->ssl_version ? std::string(" (") + v->ssl_version + ")" : "");
}

}  // namespace autoprov
