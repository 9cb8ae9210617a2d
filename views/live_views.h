// LiveViews: the view set a node serves, which a rebuild swaps while it serves (DESIGN.md
// section 5). A reader takes the current set once per request and reads only that one, so no
// response mixes two sets; the set it took stays open until its last reader lets go.
// Thread-safe.
#pragma once

#include <memory>
#include <mutex>

#include "views/view_store.h"

namespace contacts {

class LiveViews {
 public:
  LiveViews() = default;
  explicit LiveViews(std::shared_ptr<ViewStore> views) : views_(std::move(views)) {}

  // The set to read; null while a node rebuilds views it could not serve.
  std::shared_ptr<ViewStore> get() const {
    std::lock_guard lock(mutex_);
    return views_;
  }
  // Puts `next` in place; returns the set it replaced.
  std::shared_ptr<ViewStore> swap(std::shared_ptr<ViewStore> next) {
    std::lock_guard lock(mutex_);
    views_.swap(next);
    return next;
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<ViewStore> views_;
};

}  // namespace contacts
