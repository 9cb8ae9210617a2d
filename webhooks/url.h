// Webhook destinations: URL parsing and the private-address rule (DESIGN.md section 7).
#pragma once

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
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

// When `address` is in a block a webhook must not reach unless the operator allows: every
// entry of the IANA IPv4 and IPv6 Special-Purpose Address Registries (loopback, private-use,
// link-local, carrier-grade NAT, documentation, benchmarking, translation and tunnelling
// prefixes, ...), multicast, reserved space, and in IPv6 everything outside global unicast
// 2000::/3. The name of the most specific such block; nullopt for an address that may be used.
std::optional<std::string_view> special_purpose_range(const boost::asio::ip::address& address);

// special_purpose_range(address).has_value(). Thread-safe, like the function above.
bool is_private_address(const boost::asio::ip::address& address);

inline constexpr std::chrono::seconds kResolveTimeout{3};
inline constexpr int kMaxLookups = 16;

// Resolves the URL's host (on a thread of its own, waiting at most kResolveTimeout) and checks
// that it resolves, and, unless `allow_private`, that none of its addresses is private.
// kInvalid with the reason; kUnavailable while kMaxLookups lookups are in flight. Thread-safe.
Status check_destination(const Url& url, bool allow_private);

}  // namespace contacts
