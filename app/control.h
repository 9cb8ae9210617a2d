// The operator's control of a running node: a Unix socket, `control.sock` in its data directory,
// created with mode 0600 (only the user the node runs as, or root, can connect: workspace
// credentials never reach it, and it listens on no network). One request a connection, one
// line each way, the reply a JSON object:
//   rebuild  {"started": true|false, "error": "...", "rebuild": {...}}  starts an online rebuild
//   status   {"fold_version": ..., "fold_version_of_code": ..., "rebuild": {...}}
//   cancel   {"cancelled": true|false, "rebuild": {...}}
//   compact  {"compacted": true|false, "error": "..."}  the erasure compaction (README, Personal
//            data): erased people's bytes leave the node's files now
//   backup DIR  {"backed_up": true|false, "manifest": {...}, "error": "..."}  a consistent copy
//            of the node's stores into DIR (app/backup.h), taken while it serves
// `contacts rebuild`, `compact` and `backup` speak it (app/commands.cpp, app/backup.cpp).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/status.h"
#include "projector/live_fold.h"

namespace contacts::app {

// The control socket's path in `data_dir`.
std::string control_path(const std::string& data_dir);

class ControlSocket {
 public:
  // The reply to `backup DIR`, given DIR.
  using Backup = std::function<std::string(const std::string&)>;
  // Listens on `path` (replacing a file a crashed node left) until destroyed.
  static Result<std::unique_ptr<ControlSocket>> open(const std::string& path, LiveFold& fold,
                                                     std::function<Status()> compact,
                                                     Backup backup);
  ~ControlSocket();

 private:
  ControlSocket(std::string path, int fd, LiveFold& fold, std::function<Status()> compact,
                Backup backup)
      : path_(std::move(path)),
        fd_(fd),
        fold_(fold),
        compact_(std::move(compact)),
        backup_(std::move(backup)) {}
  void run();
  std::string answer(const std::string& request);

  std::string path_;
  int fd_;
  LiveFold& fold_;
  std::function<Status()> compact_;
  Backup backup_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Sends `request` to the node listening on `path`; its reply, waited for up to `timeout`.
// kUnavailable when none listens.
Result<std::string> control_request(const std::string& path, const std::string& request,
                                    std::chrono::seconds timeout = std::chrono::seconds(10));

}  // namespace contacts::app
