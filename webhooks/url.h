// Webhook destinations: URL parsing and the private-address rule (DESIGN.md section 7).
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace contacts {

struct Url {
  bool https = false;
  std::string host;    // without brackets for IPv6 literals
  uint16_t port = 0;   // the scheme's default when the URL names none
  std::string target;  // path and query, at least "/"
  // The Host header: the host, and the port when it is not the scheme's default.
  std::string host_header() const;
};

// An absolute http:// or https:// URL without user info or fragment; kInvalid with the reason.
Result<Url> parse_url(std::string_view text);

// Loopback, private (RFC 1918, unique local), link-local, carrier-grade NAT, unspecified,
// multicast and broadcast addresses: a webhook must not reach them unless the operator allows.
bool is_private_address(const boost::asio::ip::address& address);

// Resolves the URL's host (blocking) and checks that it resolves, and, unless
// `allow_private`, that none of its addresses is private. kInvalid with the reason.
Status check_destination(const Url& url, bool allow_private);

}  // namespace contacts
