#include "projector/change_publisher.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "core/log.h"

namespace contacts {

namespace {

constexpr size_t kPublishBatch = 5000;
constexpr size_t kOutboxScan = 10000;
constexpr std::chrono::milliseconds kIdle{50};

}  // namespace

ChangePublisher::ChangePublisher(const LiveViews& views, ChangeTopic& topic,
                                 std::function<Offsets()> applied, Commit commit)
    : views_(views), topic_(topic), applied_(std::move(applied)), commit_(std::move(commit)) {}

ChangePublisher::~ChangePublisher() { stop(); }

void ChangePublisher::start() {
  // What a previous run queued and did not publish (or published without removing): once more.
  std::vector<QueuedChange> left;
  int64_t after = 0;
  const auto views = views_.get();
  while (views) {
    auto entries = views->outbox(kOutboxScan, after);
    for (auto& [position_id, value] : entries) {
      auto j = nlohmann::json::parse(value, nullptr, false);
      after = position_id;
      if (!j.is_object() || !j.contains("workspace_id") || !j["workspace_id"].is_number_integer()) {
        log::error("change topic: dropping an unreadable outbox entry");
        continue;
      }
      left.push_back(
          {position_id, std::move(value), WorkspaceId(j["workspace_id"].get<int64_t>())});
    }
    if (entries.size() < kOutboxScan) break;
  }
  queue(std::move(left));
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void ChangePublisher::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (auto s = flush(); !s.ok()) log::error("change topic: " + s.message());
}

void ChangePublisher::queue(std::vector<QueuedChange>&& entries) {
  if (entries.empty()) return;
  {
    std::lock_guard lock(queue_mutex_);
    for (auto& e : entries) queue_.push_back(std::move(e));
  }
  wake_.notify_all();
}

namespace {

// A publication that counts its records as published once they are acknowledged.
class CountedPublish final : public PendingAppend {
 public:
  CountedPublish(std::unique_ptr<PendingAppend> inner, std::atomic<uint64_t>& published, size_t n)
      : inner_(std::move(inner)), published_(published), n_(n) {}
  Result<std::vector<LogPosition>> wait() override {
    auto done = inner_->wait();
    if (done.ok()) published_.fetch_add(std::exchange(n_, 0));
    return done;
  }

 private:
  std::unique_ptr<PendingAppend> inner_;
  std::atomic<uint64_t>& published_;
  size_t n_;
};

}  // namespace

std::unique_ptr<PendingAppend> ChangePublisher::start_publish(std::vector<QueuedChange>&& entries) {
  std::vector<LogRecord> records;
  records.reserve(entries.size());
  for (auto& e : entries)
    records.push_back({std::to_string(e.workspace_id.value), std::move(e.value)});
  return std::make_unique<CountedPublish>(topic_.start_publish(records), published_,
                                          records.size());
}

void ChangePublisher::run() {
  while (!stopping_) {
    {
      std::unique_lock lock(queue_mutex_);
      wake_.wait_for(lock, kIdle, [&] { return !queue_.empty() || stopping_.load(); });
    }
    if (stopping_) break;
    if (auto s = flush(); !s.ok()) {
      log::warn("change topic: " + s.message());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

void ChangePublisher::assigned(int32_t partition, int64_t committed) {
  std::lock_guard lock(flush_mutex_);
  committed_[partition] = committed;
}

Status ChangePublisher::flush() {
  std::lock_guard lock(flush_mutex_);
  // The offsets first: a batch's changes are published before it commits, so every change
  // before these offsets is published (or, left in the outbox at start, in the queue now).
  const Offsets applied = applied_();
  while (true) {
    std::vector<QueuedChange> taken;
    {
      std::lock_guard q(queue_mutex_);
      while (!queue_.empty() && taken.size() < kPublishBatch) {
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (taken.empty()) break;
    std::vector<LogRecord> records;
    std::vector<int64_t> positions;
    records.reserve(taken.size());
    positions.reserve(taken.size());
    for (const auto& t : taken) {
      records.push_back({std::to_string(t.workspace_id.value), t.value});
      positions.push_back(t.position_id);
    }
    if (auto s = topic_.publish_changes(records); !s.ok()) {
      // Back to the front, in order: published again on the next flush.
      std::lock_guard q(queue_mutex_);
      for (auto it = taken.rbegin(); it != taken.rend(); ++it) queue_.push_front(std::move(*it));
      return s;
    }
    published_.fetch_add(records.size());
    // From the set live now: a rebuild carried what was still there into it.
    if (auto views = views_.get())
      if (auto s = views->remove_outbox(positions); !s.ok()) return s;
  }
  std::vector<std::pair<int32_t, int64_t>> moved;
  for (const auto& [p, next] : applied) {
    auto it = committed_.find(p);
    if (it == committed_.end() || it->second < next) moved.emplace_back(p, next);
  }
  if (moved.empty() || !commit_) return {};
  if (auto s = commit_(moved); !s.ok()) return s;
  for (const auto& [p, next] : moved) committed_[p] = next;
  return {};
}

}  // namespace contacts
