// ViewSets: where a data directory keeps its view sets. The live set is the one the file
// `views.current` names (`views` when there is no such file: the first set); a rebuild builds
// the next one beside it (`views.2`, `views.3`, ...) and makes it live by replacing that file
// in one rename, so a crash at any instant leaves exactly one live set, whole. Any other set
// in the directory is left over from a swap or an abandoned rebuild and is removed.
#pragma once

#include <string>

#include "core/status.h"

namespace contacts {

class ViewSets {
 public:
  // Reads `views.current` of `data_dir` (which need not exist yet).
  static Result<ViewSets> scan(const std::string& data_dir);

  const std::string& live() const { return live_; }
  // Where the next rebuild builds (the set after the live one).
  const std::string& next() const { return next_; }
  // Makes next() the live set (durably), and names a new next().
  Status make_next_live();
  // Removes every set of the directory but the live one and, when `keep_next`, the next one.
  void remove_others(bool keep_next) const;

 private:
  ViewSets(std::string data_dir, int generation);
  std::string path_of(int generation) const;

  std::string data_dir_;
  int generation_ = 1;
  std::string live_, next_;
};

}  // namespace contacts
