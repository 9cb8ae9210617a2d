#include "app/control.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace contacts::app {

namespace {

constexpr int kPollMillis = 200;
constexpr size_t kMaxRequest = 4200;  // "backup " and a path of up to PATH_MAX
constexpr int kRequestMillis = 2000;

Result<sockaddr_un> address_of(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return Status{Code::kInvalid, "the control socket's path is too long for a Unix socket (" +
                                      std::to_string(path.size()) + " bytes, at most " +
                                      std::to_string(sizeof addr.sun_path - 1) + "): " + path};
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

void set_timeout(int fd, int seconds) {
  timeval tv{seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// One line from `fd` (without its newline), up to kMaxRequest bytes, within kRequestMillis all
// told: a client that sends slowly holds the control thread no longer than that.
std::string read_line(int fd) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kRequestMillis);
  std::string line;
  char buffer[kMaxRequest];
  while (line.size() < kMaxRequest) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    const ssize_t n = ::read(fd, buffer, kMaxRequest - line.size());
    if (n <= 0) break;
    line.append(buffer, static_cast<size_t>(n));
    if (auto end = line.find('\n'); end != std::string::npos) return line.substr(0, end);
  }
  return line;
}

void write_all(int fd, const std::string& text) {
  size_t sent = 0;
  while (sent < text.size()) {
    ssize_t n = ::write(fd, text.data() + sent, text.size() - sent);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace

std::string control_path(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "control.sock").string();
}

Result<std::unique_ptr<ControlSocket>> ControlSocket::open(const std::string& path, LiveFold& fold,
                                                           std::function<Status()> compact,
                                                           Backup backup) {
  auto addr = address_of(path);
  if (!addr.ok()) return addr.status();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status{Code::kInternal, "control socket: " + std::string(strerror(errno))};
  ::unlink(path.c_str());  // left by a node that crashed: this one holds the data directory
  // Owner-only before it listens: until listen() nobody can connect, so no other user ever
  // could. (Not by umask: it is the whole process', and other threads create files.)
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0 ||
      ::chmod(path.c_str(), 0600) != 0 || ::listen(fd, 8) != 0) {
    Status s{Code::kInternal, "control socket " + path + ": " + strerror(errno)};
    ::close(fd);
    return s;
  }
  std::unique_ptr<ControlSocket> socket(
      new ControlSocket(path, fd, fold, std::move(compact), std::move(backup)));
  socket->thread_ = std::thread([s = socket.get()] { s->run(); });
  return socket;
}

ControlSocket::~ControlSocket() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
  ::unlink(path_.c_str());
}

void ControlSocket::run() {
  while (!stopping_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, kPollMillis) <= 0) continue;
    int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    set_timeout(client, 2);
    write_all(client, answer(read_line(client)) + "\n");
    ::close(client);
  }
}

std::string ControlSocket::answer(const std::string& request) {
  auto rebuild = [&] { return nlohmann::json::parse(fold_.progress().to_json()); };
  nlohmann::json reply;
  if (request == "rebuild") {
    Status s = fold_.request_rebuild("requested by `contacts rebuild`");
    reply["started"] = s.ok();
    if (!s.ok()) reply["error"] = s.message();
    reply["rebuild"] = rebuild();
  } else if (request == "cancel") {
    reply["cancelled"] = fold_.cancel_rebuild();
    reply["rebuild"] = rebuild();
  } else if (request == "compact") {
    Status s = compact_();
    reply["compacted"] = s.ok();
    if (!s.ok()) reply["error"] = s.message();
  } else if (request == "status") {
    reply = nlohmann::json::parse(fold_.state_json());
  } else if (request.starts_with("backup /") && backup_) {
    return backup_(request.substr(7));
  } else {
    reply["error"] = "unknown request \"" + request +
                     "\": rebuild, status, cancel, compact or backup /ABSOLUTE/DIR";
  }
  return reply.dump();
}

Result<std::string> control_request(const std::string& path, const std::string& request,
                                    std::chrono::seconds timeout) {
  auto addr = address_of(path);
  if (!addr.ok()) return addr.status();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status{Code::kInternal, "socket: " + std::string(strerror(errno))};
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    ::close(fd);
    return Status{Code::kUnavailable, "no node listens on " + path};
  }
  set_timeout(fd, static_cast<int>(timeout.count()));
  write_all(fd, request + "\n");
  std::string reply;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;)
    reply.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  if (reply.empty()) return Status{Code::kUnavailable, "the node at " + path + " did not answer"};
  while (!reply.empty() && reply.back() == '\n') reply.pop_back();
  return reply;
}

}  // namespace contacts::app
