#include "http/server.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <limits>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <vector>

#include "core/log.h"
#include "http/access_log.h"
#include "http/framing.h"

namespace contacts {

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

HttpResponse json_response(unsigned status, std::string body, unsigned version, bool keep_alive) {
  HttpResponse res{static_cast<http::status>(status), version};
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

bool declares_body(const http::request_header<>& header) {
  if (header.count(http::field::transfer_encoding) > 0) return true;
  std::string_view length = header[http::field::content_length];
  return !length.empty() && length.find_first_not_of('0') != std::string_view::npos;
}

HttpResponse error_response(unsigned status, std::string_view message) {
  return json_response(status, nlohmann::json{{"error", message}}.dump());
}

HttpResponse unauthorized(std::string_view message, std::string_view realm,
                          bool credentials_given) {
  HttpResponse res = error_response(401, message);
  std::string challenge = "Bearer realm=\"" + std::string(realm) + "\"";
  if (credentials_given) challenge += ", error=\"invalid_token\"";
  res.set(http::field::www_authenticate, challenge);
  return res;
}

HttpResponse method_not_allowed(std::string_view allow) {
  HttpResponse res = error_response(405, "Method not allowed");
  res.set(http::field::allow, allow);
  return res;
}

namespace {

class Session;

// What the listener and its sessions share; outlives both.
struct ServerState {
  Handler handler;
  HttpServerOptions options;
  std::atomic<size_t> sessions{0};
  std::atomic<bool> draining{false};
  std::mutex clients_mutex;
  std::unordered_map<asio::ip::address, size_t> clients;  // open connections per source
  // Every open session, so a drain can close the idle ones at once (each on its own strand).
  std::mutex sessions_mutex;
  std::unordered_map<const Session*, std::weak_ptr<Session>> open_sessions;
  // The server's waiting pool; null without one, and once the server is gone.
  std::mutex waiting_mutex;
  asio::thread_pool* waiting = nullptr;

  // A source: an IPv4 address, or the /64 of an IPv6 one (what one subscriber holds).
  static asio::ip::address source_of(const asio::ip::address& address) {
    if (!address.is_v6() || address.to_v6().is_v4_mapped()) return address;
    auto bytes = address.to_v6().to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return asio::ip::address_v6(bytes);
  }

  // Counts a connection from `client`; false (nothing counted) when that source has its limit.
  bool admit(const asio::ip::address& client) {
    if (options.max_connections_per_client == 0) return true;
    std::lock_guard lock(clients_mutex);
    size_t& open = clients[client];
    if (open >= options.max_connections_per_client) return false;
    ++open;
    return true;
  }
  void release(const asio::ip::address& client) {
    if (options.max_connections_per_client == 0) return;
    std::lock_guard lock(clients_mutex);
    auto it = clients.find(client);
    if (it != clients.end() && --it->second == 0) clients.erase(it);
  }
  bool under_pressure() const { return sessions.load() > options.max_connections / 2; }

  // Whether `request` runs on the waiting pool.
  bool waits(const HttpRequest& request) const {
    if (options.waiting_threads == 0) return false;
    if (options.waits) return options.waits(request);
    return request.method() != http::verb::get;  // a HEAD is asked as a GET
  }
};

// The handler's response; one that throws is answered 500 and logged with the request's id.
// On an I/O thread or the waiting pool.
HttpResponse respond(const Handler& handler, const HttpRequest& request,
                     const std::string& request_id) {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    // A JSON parser's message quotes the body it read ("last read: ..."): that part stays out.
    std::string_view what = e.what();
    log::error("handler failed",
               {{"request_id", request_id}, {"error", what.substr(0, what.find("; last read"))}});
    return error_response(500, "Internal server error");
  }
}

// What a response needs of its request once the request is gone.
struct Asked {
  unsigned version = 11;
  bool keep_alive = true;
  bool head = false;  // answered as a GET without the body
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, asio::ip::address client, std::shared_ptr<ServerState> state)
      : stream_(std::move(socket)), client_(std::move(client)), state_(std::move(state)) {
    state_->sessions.fetch_add(1);
    beast::error_code ec;
    remote_ = stream_.socket().remote_endpoint(ec).address().to_string();
  }
  ~Session() {
    {
      std::lock_guard lock(state_->sessions_mutex);
      state_->open_sessions.erase(this);
    }
    state_->sessions.fetch_sub(1);
    state_->release(client_);
  }

  void run() {
    {
      std::lock_guard lock(state_->sessions_mutex);
      state_->open_sessions.emplace(this, weak_from_this());
    }
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

  // During a drain: a connection waiting for its next request is closed now, not at its idle
  // timeout; one inside a request finishes it (Connection: close). Any thread.
  void close_if_idle() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->idle_) self->stream_.close();
    });
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(state_->options.body_limit);
    parser_->header_limit(kHeaderLimit);
    if (buffer_.size() > 0) return read_header();    // the next request is already here
    if (state_->draining.load()) return do_close();  // no next request once the drain began
    // Waiting for a request: a connection that sends nothing is closed at the first-byte
    // timeout (new ones, and kept-alive ones while the listener is half full) or the idle one.
    const auto& o = state_->options;
    stream_.expires_after(first_request_ || state_->under_pressure() ? o.first_byte_timeout
                                                                     : o.idle_timeout);
    first_request_ = false;
    idle_ = true;
    stream_.async_read_some(
        buffer_.prepare(kFirstRead),
        beast::bind_front_handler(&Session::on_first_bytes, shared_from_this()));
  }

  void on_first_bytes(beast::error_code ec, std::size_t n) {
    idle_ = false;
    if (ec == asio::error::eof) return do_close();
    if (ec) return on_error(ec);
    buffer_.commit(n);
    read_header();
  }

  void read_header() {
    started_ = std::chrono::steady_clock::now();
    stream_.expires_after(state_->options.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_error(ec);
    const auto& header = parser_->get().base();
    request_id_ = request_id_of(header);
    if (log::enabled(log::Level::kInfo)) {  // only the access log reads them
      method_ = std::string(header.method_string());
      target_ = loggable_target(header.target());
    }
    // Refused from the head alone: nothing of the body is read, and the connection closes.
    if (auto error = check_framing(header))
      return send(error_response(error->status, error->message), true);
    if (state_->options.header_check) {
      if (auto refused = state_->options.header_check(header))
        return send(std::move(*refused), true);
    }
    // A client that waits for leave to send its body gets it now, past every check: one that is
    // refused never sent its body (RFC 9110 section 10.1.1).
    if (beast::iequals(header[http::field::expect], "100-continue") && header.version() >= 11) {
      continue_.emplace(http::status::continue_, header.version());
      stream_.expires_after(state_->options.read_timeout);
      return http::async_write(stream_, *continue_,
                               [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                 if (!ec) self->read_body();
                               });
    }
    read_body();
  }

  void read_body() {
    // Beast reads as much as the buffer has room for, up to 64 KiB: without room made here, a
    // big body came in pieces the size of its headers, each a system call and a timer update.
    auto length = parser_->content_length();
    if ((length && *length > kBodyPiece) || parser_->chunked())
      buffer_.reserve(buffer_.size() + kBodyPiece);
    stream_.expires_after(state_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return on_error(ec);
    // The room made for a big body is given back: an idle connection holds only what it has.
    // (Only then: a small request's buffer is kept for the next one on the connection.)
    if (buffer_.capacity() > kBodyPiece) buffer_.shrink_to_fit();
    HttpRequest request = parser_->release();
    // HEAD is GET without the body (RFC 9110 section 9.3.2): the same status and headers.
    const bool head = request.method() == http::verb::head;
    if (head) request.method(http::verb::get);
    const Asked asked{request.version(), request.keep_alive(), head};
    if (state_->waits(request)) return do_wait(std::move(request), asked);
    on_response(asked, respond(state_->handler, request, request_id_));
  }

  // A request that may wait runs on the waiting pool and its response comes back to this
  // session's strand: meanwhile this I/O thread serves other connections. The work holds the
  // session, so a drain waits for it (open_connections counts it), and counts as the io_context's
  // work, so that its run() does not return while the only request left waits on the pool.
  void do_wait(HttpRequest request, Asked asked) {
    auto strand = asio::prefer(stream_.get_executor(), asio::execution::outstanding_work.tracked);
    auto work = [self = shared_from_this(), strand = std::move(strand), id = request_id_,
                 request = std::move(request), asked]() {
      HttpResponse response = respond(self->state_->handler, request, id);
      asio::post(strand, [self, asked, response = std::move(response)]() mutable {
        self->on_response(asked, std::move(response));
      });
    };
    {
      std::lock_guard lock(state_->waiting_mutex);
      if (state_->waiting) return asio::post(*state_->waiting, std::move(work));
    }
    on_response(asked, error_response(503, "Server stopped"));  // the server is gone
  }

  void on_response(Asked asked, HttpResponse response) {
    response.version(asked.version);
    // A 304 has no Content-Length: the one it may carry is the 200's (RFC 9110 section 8.6).
    if (asked.head && response.result() != http::status::not_modified) {
      const auto length = response.body().size();
      response.body().clear();
      response.content_length(length);
    }
    bool close = !asked.keep_alive || state_->draining.load();
    send(std::move(response), close);
  }

  void on_error(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return do_close();
    if (ec == http::error::body_limit)
      return send(error_response(413, "Request body too large"), true);
    if (ec == http::error::header_limit)
      return send(error_response(431, "Request headers too large"), true);
    if (ec == beast::error::timeout) return;  // the stream closes itself
    if (ec.category() == make_error_code(http::error::bad_target).category())
      return send(error_response(400, "Malformed HTTP request"), true);
  }

  void send(HttpResponse response, bool close) {
    response.keep_alive(!close);
    if (request_id_.empty()) request_id_ = new_request_id();  // refused before its head was read
    response.set("X-Request-Id", request_id_);
    response_ = std::make_shared<HttpResponse>(std::move(response));
    stream_.expires_after(state_->options.read_timeout);
    http::async_write(stream_, *response_,
                      beast::bind_front_handler(&Session::on_write, shared_from_this(), close));
  }

  void on_write(bool close, beast::error_code ec, std::size_t) {
    log_access({method_, target_, response_->result_int(), response_->body().size(),
                std::chrono::steady_clock::now() - started_, remote_, request_id_});
    method_.clear();
    target_.clear();
    request_id_.clear();
    if (ec) return;
    if (close || state_->draining.load()) return do_close();
    response_.reset();
    do_read();
  }

  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  asio::ip::address client_;
  bool first_request_ = true;
  bool idle_ = false;  // waiting for the first bytes of a request (on the strand only)
  // Of the request being answered, for the access log.
  std::string remote_;
  std::string method_;
  std::string target_;
  std::string request_id_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpResponse> response_;
  std::optional<http::response<http::empty_body>> continue_;
  std::shared_ptr<ServerState> state_;
};

}  // namespace

struct HttpServer::Listener : std::enable_shared_from_this<HttpServer::Listener> {
  Listener(asio::io_context& ioc, Handler h, HttpServerOptions o)
      : ioc(ioc),
        acceptor(asio::make_strand(ioc)),
        retry(ioc),
        state(std::make_shared<ServerState>()) {
    state->handler = std::move(h);
    state->options = std::move(o);
  }

  void do_accept() {
    acceptor.async_accept(asio::make_strand(ioc),
                          beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors or the like: try again shortly instead of spinning.
      retry.expires_after(kAcceptRetryDelay);
      retry.async_wait([self = shared_from_this()](beast::error_code) { self->do_accept(); });
      return;
    }
    beast::error_code ignored, gone;
    auto client = ServerState::source_of(socket.remote_endpoint(gone).address());
    if (gone || state->sessions.load() >= state->options.max_connections || !state->admit(client)) {
      socket.close(ignored);
    } else {
      std::make_shared<Session>(std::move(socket), std::move(client), state)->run();
    }
    do_accept();
  }

  asio::io_context& ioc;
  tcp::acceptor acceptor;
  asio::steady_timer retry;
  std::shared_ptr<ServerState> state;
};

size_t raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY) return std::numeric_limits<size_t>::max();
  return static_cast<size_t>(limit.rlim_cur);
}

ConnectionBudget connection_budget(size_t open_files) {
  size_t reserve = std::min<size_t>(1024, open_files / 4);
  size_t rest = open_files - reserve;
  return {std::clamp<size_t>(rest / 4 * 3, 1, 16384), std::clamp<size_t>(rest / 4, 1, 4096)};
}

HttpServer::HttpServer(asio::io_context& ioc, Handler handler, HttpServerOptions options)
    : listener_(std::make_shared<Listener>(ioc, std::move(handler), options)) {
  if (options.waiting_threads == 0) return;
  waiting_ = std::make_unique<asio::thread_pool>(options.waiting_threads);
  listener_->state->waiting = waiting_.get();
}

HttpServer::~HttpServer() {
  stop();
  {
    std::lock_guard lock(listener_->state->waiting_mutex);
    listener_->state->waiting = nullptr;
  }
  // Waits for the handlers running on the pool; the requests still queued are dropped (and
  // their sessions with them): their io_context has stopped, or their connections close.
  waiting_.reset();
}

Status HttpServer::listen(const std::string& host, uint16_t port) {
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return {Code::kInvalid, "bad listen address " + host + ": " + ec.message()};
  tcp::endpoint endpoint(address, port);
  auto& acceptor = listener_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return {Code::kUnavailable,
            "listen on " + host + ":" + std::to_string(port) + ": " + ec.message()};
  listener_->do_accept();
  return {};
}

uint16_t HttpServer::port() const {
  beast::error_code ec;
  return listener_->acceptor.local_endpoint(ec).port();
}

size_t HttpServer::open_connections() const { return listener_->state->sessions.load(); }

void HttpServer::stop() {
  auto& state = *listener_->state;
  state.draining = true;
  std::vector<std::weak_ptr<Session>> open;
  {
    std::lock_guard lock(state.sessions_mutex);
    for (const auto& [session, weak] : state.open_sessions) open.push_back(weak);
  }
  // Outside the lock: the last reference to a session may go here, and its destructor locks.
  for (const auto& weak : open)
    if (auto session = weak.lock()) session->close_if_idle();
  asio::post(listener_->acceptor.get_executor(), [l = listener_] {
    beast::error_code ignored;
    l->acceptor.close(ignored);
  });
}

bool split_host_port(const std::string& text, std::string& host, uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  try {
    int p = std::stoi(text.substr(colon + 1));
    if (p < 0 || p > 65535) return false;
    port = static_cast<uint16_t>(p);
  } catch (...) {
    return false;
  }
  return true;
}

}  // namespace contacts
