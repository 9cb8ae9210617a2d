// HttpSender: one POST of a webhook delivery, the dispatcher's only way to the network.
// post() returns at once; the outcome comes later, once, through the executor it was given.
//
//   sender.post(ioc.get_executor(), HttpPost{url, {{"Content-Type", "application/json"}}, body,
//   deadline},
//               [](HttpOutcome outcome) { /* on an ioc thread */ });
//
// Implementations: AsioHttpSender (Beast, TLS), FakeHttpSender (tests script its answers).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "webhooks/url.h"

namespace contacts {

struct HttpHeader {
  std::string name;  // as it is written on the wire
  std::string value;
};

struct HttpPost {
  Url url;
  std::vector<HttpHeader> headers;  // in this order, after the Host header that `url` gives
  std::string body;
  // Over the whole attempt: resolve, connect, TLS handshake, write, read.
  std::chrono::steady_clock::time_point deadline;
};

struct HttpOutcome {
  int status = 0;     // the HTTP status, 0 when none was received
  std::string error;  // why none was received (a timeout, a refused connection...); else empty
};

class HttpSender {
 public:
  using Done = std::function<void(HttpOutcome)>;
  virtual ~HttpSender() = default;
  // Starts one attempt. `done` is called exactly once, through `executor`, never before post()
  // returns. Every attempt ends by the deadline, however the receiver behaves (a fake's held
  // attempt ends when the test releases it). The sender must outlive its attempts.
  virtual void post(boost::asio::any_io_executor executor, HttpPost request, Done done) = 0;
};

}  // namespace contacts
