#include "projector/change_publisher.h"

#include <iostream>
#include <nlohmann/json.hpp>

namespace contacts {

namespace {

constexpr size_t kPublishBatch = 2000;
constexpr std::chrono::milliseconds kIdle{50};

}  // namespace

ChangePublisher::ChangePublisher(ViewStore& views, KafkaLog& log, Projector& projector, Commit commit)
    : views_(views), log_(log), projector_(projector), commit_(std::move(commit)) {}

ChangePublisher::~ChangePublisher() { stop(); }

void ChangePublisher::start() {
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void ChangePublisher::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (auto s = flush(); !s.ok()) std::cerr << "contacts: change topic: " << s.message() << "\n";
}

void ChangePublisher::notify() {
  {
    std::lock_guard lock(wake_mutex_);
    notified_ = true;
  }
  wake_.notify_all();
}

void ChangePublisher::run() {
  while (!stopping_) {
    {
      std::unique_lock lock(wake_mutex_);
      wake_.wait_for(lock, kIdle, [&] { return notified_ || stopping_.load(); });
      notified_ = false;
    }
    if (stopping_) break;
    if (auto s = flush(); !s.ok()) {
      std::cerr << "contacts: change topic: " << s.message() << "\n";
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

Status ChangePublisher::flush() {
  std::lock_guard lock(flush_mutex_);
  // The offsets first: every change of a position before them is in the outbox by now (the
  // batch that applied a position queued its changes), or was published and removed.
  std::vector<std::pair<int32_t, int64_t>> applied;
  for (int32_t p : projector_.owned()) applied.emplace_back(p, projector_.applied(Partition(p)).value);
  while (true) {
    auto entries = views_.outbox(kPublishBatch);
    if (entries.empty()) break;
    std::vector<LogRecord> records;
    std::vector<std::string> keys;
    records.reserve(entries.size());
    for (auto& [key, value] : entries) {
      auto j = nlohmann::json::parse(value, nullptr, false);
      keys.push_back(key);
      if (!j.is_object() || !j.contains("workspace_id")) {
        std::cerr << "contacts: change topic: dropping an unreadable outbox entry\n";
        continue;
      }
      records.push_back({j["workspace_id"].dump(), std::move(value)});
    }
    if (auto s = log_.publish_changes(records); !s.ok()) return s;
    published_.fetch_add(records.size());
    if (auto s = views_.remove_outbox(keys); !s.ok()) return s;
    if (entries.size() < kPublishBatch) break;
  }
  std::vector<std::pair<int32_t, int64_t>> moved;
  for (const auto& [p, next] : applied) {
    auto it = committed_.find(p);
    if (it == committed_.end() || it->second != next) moved.emplace_back(p, next);
  }
  if (moved.empty() || !commit_) return {};
  if (auto s = commit_(moved); !s.ok()) return s;
  for (const auto& [p, next] : moved) committed_[p] = next;
  return {};
}

}  // namespace contacts
