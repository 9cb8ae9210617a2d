// The version of the fold that writes the views (DESIGN.md section 5). The views record it when
// they are created; a node meeting views of another version rebuilds them.
//  - kFoldVersion: bump it in the same change that alters what the fold writes for a log (its
//    semantics) or how the views encode it.
//  - kOldestReadableFoldVersion: the oldest views this code can still serve while it rebuilds
//    them in the background. Raise it to kFoldVersion when the read side no longer reads the
//    older encoding; a node then rebuilds before it serves.
// Defined in fold_version.cpp, an object of its own: the tests build the binary again with the
// version bumped (CONTACTS_FOLD_VERSION_BUMP), to run both paths.
#pragma once

namespace contacts {

int fold_version();
int oldest_readable_fold_version();

// Whether views of `version` can be served by this code.
inline bool readable_fold_version(int version) {
  return version >= oldest_readable_fold_version() && version <= fold_version();
}

}  // namespace contacts
