#include "views/view_sets.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/log.h"

namespace contacts {

namespace fs = std::filesystem;

namespace {

constexpr const char* kCurrentFile = "views.current";

// The generation a set's directory name gives: 1 for `views`, N for `views.N`; 0 otherwise.
int generation_of(const std::string& name) {
  if (name == "views") return 1;
  if (!name.starts_with("views.")) return 0;
  const std::string digits = name.substr(6);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::atoi(digits.c_str());
}

Status sync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) return {Code::kInternal, "open " + path + " to sync it"};
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return {Code::kInternal, "sync " + path};
  return {};
}

}  // namespace

ViewSets::ViewSets(std::string data_dir, int generation)
    : data_dir_(std::move(data_dir)),
      generation_(generation),
      live_(path_of(generation)),
      next_(path_of(generation + 1)) {}

std::string ViewSets::path_of(int generation) const {
  return (fs::path(data_dir_) /
          (generation == 1 ? std::string("views") : "views." + std::to_string(generation)))
      .string();
}

Result<ViewSets> ViewSets::scan(const std::string& data_dir) {
  const fs::path current = fs::path(data_dir) / kCurrentFile;
  std::ifstream in(current);
  if (!in) return ViewSets(data_dir, 1);
  std::string name;
  std::getline(in, name);
  int generation = generation_of(name);
  if (generation < 1)
    return Status{Code::kInvalid, current.string() + " names no view set (\"" + name + "\")"};
  return ViewSets(data_dir, generation);
}

Status ViewSets::make_next_live() {
  const fs::path dir(data_dir_);
  const std::string tmp = (dir / (std::string(kCurrentFile) + ".tmp")).string();
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << fs::path(next_).filename().string() << "\n";
    out.flush();
    if (!out) return {Code::kInternal, "write " + tmp};
  }
  if (auto s = sync_path(tmp, O_RDONLY); !s.ok()) return s;
  std::error_code ec;
  fs::rename(tmp, dir / kCurrentFile, ec);
  if (ec) return {Code::kInternal, "rename " + tmp + ": " + ec.message()};
  // Renamed: the next set is live from here on, whatever follows. A directory that cannot be
  // synced is said, not undone (undoing would remove the set the file now names).
  if (auto s = sync_path(data_dir_, O_RDONLY | O_DIRECTORY); !s.ok())
    log::warn(s.message() + " (the swap of the views may not survive a power loss)");
  *this = ViewSets(data_dir_, generation_ + 1);
  return {};
}

void ViewSets::remove_others(bool keep_next) const {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(data_dir_, ec)) {
    const std::string path = entry.path().string();
    if (generation_of(entry.path().filename().string()) == 0 || path == live_) continue;
    if (keep_next && path == next_) continue;
    fs::remove_all(entry.path(), ec);
  }
}

}  // namespace contacts
