// HttpServer: a Boost.Beast listener and sessions around a pure handler function.
// The handler maps a parsed request to a response and may run on any I/O thread at once, or on
// the server's waiting pool for requests that may wait (HttpServerOptions::waiting_threads).
// Bounded: header and body size (413 past the body limit), timeouts for idle connections, a
// request's head and its body, open connections in all and per source address. Requests are
// framed strictly (http/framing.h).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"

namespace contacts {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;
using Handler = std::function<HttpResponse(const HttpRequest&)>;
// Looks at a request's header before its body is read; a response it returns is sent at
// once (and the connection closed), so a refused upload is never buffered.
using HeaderCheck = std::function<std::optional<HttpResponse>(const http::request_header<>&)>;
// Whether a request's handler may wait (on the projector, the log): such requests run on the
// waiting pool, so that they never hold an I/O thread.
using WaitsPredicate = std::function<bool(const HttpRequest&)>;

inline constexpr size_t kDefaultApiBodyLimit = 1 << 20;
inline constexpr size_t kHeaderLimit = 16 * 1024;
// The most Beast reads from a socket at once: a big body is read in pieces of this size.
inline constexpr size_t kBodyPiece = 64 * 1024;
// What a connection reads first: room for a usual request head, not a body's piece (an idle
// connection keeps its buffer).
inline constexpr size_t kFirstRead = 4096;
inline constexpr std::chrono::seconds kDefaultReadTimeout{30};
inline constexpr std::chrono::seconds kDefaultIdleTimeout{30};
inline constexpr std::chrono::seconds kDefaultFirstByteTimeout{5};
inline constexpr std::chrono::seconds kDefaultHeaderTimeout{10};
inline constexpr size_t kDefaultMaxConnections = 4096;
inline constexpr size_t kDefaultMaxConnectionsPerClient = 256;
inline constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

struct HttpServerOptions {
  size_t body_limit = kDefaultApiBodyLimit;
  // A body must arrive, and a response be taken, within it.
  std::chrono::seconds read_timeout = kDefaultReadTimeout;
  // A new connection must send its first byte within it; so must a kept-alive one once the
  // listener holds more than half its connections (idle ones are then reclaimed).
  std::chrono::seconds first_byte_timeout = kDefaultFirstByteTimeout;
  // How long a kept-alive connection may wait for its next request otherwise.
  std::chrono::seconds idle_timeout = kDefaultIdleTimeout;
  // A request's head must be complete within it of its first byte (slow senders).
  std::chrono::seconds header_timeout = kDefaultHeaderTimeout;
  size_t max_connections = kDefaultMaxConnections;  // past it, new connections are closed
  // Past it, a source's new connections are closed (an IPv4 address, or an IPv6 /64); 0: no
  // limit (behind a proxy).
  size_t max_connections_per_client = kDefaultMaxConnectionsPerClient;
  HeaderCheck header_check;  // optional; runs after the framing rules of http/framing.h
  // Threads of a pool of the server's own that runs the requests that may wait, one at a time
  // per connection (so at most as many queue as connections are open); the response is written
  // back on the connection's strand. 0: every request runs on the I/O thread that read it.
  size_t waiting_threads = 0;
  // Which requests may wait; null: every method but GET and HEAD (a HEAD is asked as a GET).
  WaitsPredicate waits;
};

// Raises this process's soft open-file limit to its hard limit (best effort); the soft limit
// then in force.
size_t raise_open_file_limit();

// How many connections each listener may hold, given the open-file limit: a quarter (at most
// 1,024) is kept for the stores and the log, of the rest three quarters go to the API (at most
// 16,384) and one to ingest (at most 4,096), so one listener's flood never takes the other's.
struct ConnectionBudget {
  size_t api = 0;
  size_t ingest = 0;
};
ConnectionBudget connection_budget(size_t open_files);

// Whether a request's head announces a body (a Content-Length above 0, or a transfer coding).
bool declares_body(const http::request_header<>& header);

// A JSON response with the given status and body.
HttpResponse json_response(unsigned status, std::string body, unsigned version = 11,
                           bool keep_alive = true);
// {"error": message} with the given status.
HttpResponse error_response(unsigned status, std::string_view message);
// A 401 with the `WWW-Authenticate: Bearer` challenge of RFC 6750 (error="invalid_token" when
// the request carried credentials).
HttpResponse unauthorized(std::string_view message, std::string_view realm, bool credentials_given);
// A 405 with the `Allow` header RFC 9110 requires (e.g. "GET, HEAD").
HttpResponse method_not_allowed(std::string_view allow);

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, Handler handler, HttpServerOptions options);
  ~HttpServer();

  // Binds and listens on host:port; kUnavailable when that fails.
  Status listen(const std::string& host, uint16_t port);
  uint16_t port() const;
  // Stops accepting (a drain): connections waiting for a request close at once, the others
  // after their current response (sent with Connection: close), a waiting one's too.
  void stop();
  // Connections open, those whose request is on the waiting pool included.
  size_t open_connections() const;

 private:
  struct Listener;
  std::shared_ptr<Listener> listener_;
  // Destroyed with the server (after the handlers running on it return); requests still
  // queued on it then are dropped with their connections.
  std::unique_ptr<boost::asio::thread_pool> waiting_;
};

// Splits "HOST:PORT"; false when malformed.
bool split_host_port(const std::string& text, std::string& host, uint16_t& port);

}  // namespace contacts
