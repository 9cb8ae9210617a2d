// FakeHttpSender: an HttpSender for tests. It records every request, answers each from a script
// (then with a default), and can hold an attempt open until the test releases it. Thread-safe:
// the dispatcher's thread posts while the test's thread scripts, reads and releases.
//
//   FakeHttpSender sender;
//   sender.answer(FakeHttpSender::status(500));           // the first attempt gets a 500
//   sender.hold(FakeHttpSender::failure("timed out"));   // the second waits for release_one()
//   // every later one: 200, at once
#pragma once

#include <boost/asio/post.hpp>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "webhooks/http_sender.h"

namespace contacts {

class FakeHttpSender final : public HttpSender {
 public:
  static HttpOutcome status(int code) { return {code, ""}; }
  static HttpOutcome failure(std::string error) { return {0, std::move(error)}; }

  // The next attempt not yet scripted answers `outcome` (as soon as the dispatcher's executor
  // runs it).
  void answer(HttpOutcome outcome) { script({std::move(outcome), false}); }
  // The next attempt not yet scripted answers `outcome` once released.
  void hold(HttpOutcome outcome) { script({std::move(outcome), true}); }
  // The answer of every attempt past the script (200 at once unless set).
  void answer_otherwise(HttpOutcome outcome, bool hold = false) {
    std::lock_guard lock(mutex_);
    otherwise_ = {std::move(outcome), hold};
  }

  // Every request received, in order.
  std::vector<HttpPost> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  size_t request_count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }
  // Attempts held open now.
  size_t held() const {
    std::lock_guard lock(mutex_);
    return held_.size();
  }
  // Ends the oldest held attempt with its outcome; false when none is held.
  bool release_one() {
    std::unique_lock lock(mutex_);
    if (held_.empty()) return false;
    Held attempt = std::move(held_.front());
    held_.pop_front();
    lock.unlock();
    complete(std::move(attempt));
    return true;
  }
  void release_all() {
    while (release_one()) {
    }
  }

  void post(boost::asio::any_io_executor executor, HttpPost request, Done done) override {
    std::unique_lock lock(mutex_);
    requests_.push_back(std::move(request));
    Step step = otherwise_;
    if (!script_.empty()) {
      step = std::move(script_.front());
      script_.pop_front();
    }
    Held attempt{std::move(executor), std::move(step.outcome), std::move(done)};
    if (step.hold) return held_.push_back(std::move(attempt));
    lock.unlock();
    complete(std::move(attempt));
  }

 private:
  struct Step {
    HttpOutcome outcome;
    bool hold = false;
  };
  struct Held {
    boost::asio::any_io_executor executor;
    HttpOutcome outcome;
    Done done;
  };

  void script(Step step) {
    std::lock_guard lock(mutex_);
    script_.push_back(std::move(step));
  }
  // Through the executor, as HttpSender promises: never inside post().
  static void complete(Held attempt) {
    boost::asio::post(attempt.executor, [done = std::move(attempt.done),
                                         outcome = std::move(attempt.outcome)] { done(outcome); });
  }

  mutable std::mutex mutex_;
  std::deque<Step> script_;
  Step otherwise_{{200, ""}, false};
  std::vector<HttpPost> requests_;
  std::deque<Held> held_;
};

}  // namespace contacts
