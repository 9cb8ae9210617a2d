#include "views/fold_version.h"

namespace contacts {

namespace {

// 2: contacts are indexed by the blind index of their email and know their subject (issue 19);
// views of 1 are rebuilt before serving.
// 3: API keys follow their creator's role down, and the views index keys by their creator
// (issue 20); views of 2 would read the same but let a removed admin's keys work until a swap,
// so they are rebuilt before serving too.
constexpr int kFoldVersion = 3;
constexpr int kOldestReadableFoldVersion = 3;

// The tests' builds: 1 bumps the version (older views still readable), 2 also makes them
// unreadable.
#ifndef CONTACTS_FOLD_VERSION_BUMP
#define CONTACTS_FOLD_VERSION_BUMP 0
#endif

}  // namespace

int fold_version() { return kFoldVersion + (CONTACTS_FOLD_VERSION_BUMP > 0 ? 1 : 0); }

int oldest_readable_fold_version() {
  return CONTACTS_FOLD_VERSION_BUMP > 1 ? fold_version() : kOldestReadableFoldVersion;
}

}  // namespace contacts
