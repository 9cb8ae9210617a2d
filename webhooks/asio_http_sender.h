// AsioHttpSender: HttpSender over Boost.Beast, plain or TLS (verified against the system's roots
// and the host name). Each attempt is a coroutine on the caller's executor, bounded by its
// deadline and by kResponseBodyLimit; it checks the private-address rule again every time.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <cstddef>

#include "webhooks/http_sender.h"

namespace contacts {

// A receiver's answer is read up to this many body bytes; its status counts even past them.
inline constexpr size_t kResponseBodyLimit = 64 * 1024;

class AsioHttpSender final : public HttpSender {
 public:
  // `allow_private`: whether a URL may resolve to a private, loopback or link-local address.
  explicit AsioHttpSender(bool allow_private);
  // Thread-compatible: call it from one thread at a time (the dispatcher's).
  void post(boost::asio::any_io_executor executor, HttpPost request, Done done) override;

 private:
  const bool allow_private_;
  boost::asio::ssl::context tls_;  // shared by every attempt
};

}  // namespace contacts
