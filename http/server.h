// HttpServer: a Boost.Beast listener and sessions around a pure handler function.
// The handler maps a parsed request to a response and may run on any I/O thread at once.
// Bounded: header and body size (413 past the body limit), read timeout, open connections.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
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

inline constexpr size_t kDefaultApiBodyLimit = 1 << 20;
inline constexpr size_t kHeaderLimit = 16 * 1024;
// The most Beast reads from a socket at once: a big body is read in pieces of this size.
inline constexpr size_t kBodyPiece = 64 * 1024;
inline constexpr std::chrono::seconds kDefaultReadTimeout{30};
inline constexpr size_t kDefaultMaxConnections = 4096;
inline constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

struct HttpServerOptions {
  size_t body_limit = kDefaultApiBodyLimit;
  std::chrono::seconds read_timeout = kDefaultReadTimeout;
  size_t max_connections = kDefaultMaxConnections;  // past it, new connections are closed
  HeaderCheck header_check;                         // optional
};

// A JSON response with the given status and body.
HttpResponse json_response(unsigned status, std::string body, unsigned version = 11,
                           bool keep_alive = true);
// {"error": message} with the given status.
HttpResponse error_response(unsigned status, std::string_view message);

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, Handler handler, HttpServerOptions options);
  ~HttpServer();

  // Binds and listens on host:port; kUnavailable when that fails.
  Status listen(const std::string& host, uint16_t port);
  uint16_t port() const;
  // Stops accepting; open connections close after their current response.
  void stop();
  size_t open_connections() const;

 private:
  struct Listener;
  std::shared_ptr<Listener> listener_;
};

// Splits "HOST:PORT"; false when malformed.
bool split_host_port(const std::string& text, std::string& host, uint16_t& port);

}  // namespace contacts
