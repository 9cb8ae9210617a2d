#include "views/fold_version.h"

namespace contacts {

namespace {

constexpr int kFoldVersion = 1;
constexpr int kOldestReadableFoldVersion = 1;

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
