#include "webhooks/url.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cctype>
#include <charconv>
#include <future>
#include <memory>
#include <span>
#include <thread>
#include <vector>

namespace contacts {

namespace {
Status invalid(std::string reason) { return {Code::kInvalid, std::move(reason)}; }
}  // namespace

std::string Url::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (https ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

Result<Url> parse_url(std::string_view text) {
  Url url;
  std::string_view rest;
  if (text.rfind("https://", 0) == 0) {
    url.https = true;
    rest = text.substr(8);
  } else if (text.rfind("http://", 0) == 0) {
    rest = text.substr(7);
  } else {
    return invalid("url must start with http:// or https://");
  }
  for (char ch : text)
    if (ch < '!' || ch > '~') return invalid("url must be printable ASCII without spaces");
  if (rest.find('#') != std::string_view::npos) return invalid("url must not have a fragment");
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (url.target[0] == '?') url.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) return invalid("url must not carry user info");
  std::string_view port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid("url has an unterminated IPv6 address");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return invalid("url has characters after its IPv6 address");
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (url.host.find(':') != std::string::npos)
      return invalid("url must put an IPv6 address in brackets");
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return invalid("url must name a host");
  for (char& ch : url.host) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  url.port = url.https ? 443 : 80;
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535)
      return invalid("url has an invalid port");
    url.port = static_cast<uint16_t>(port);
  }
  return url;
}

namespace {

// A refused block as the registries write it: its first address, its prefix length, its name.
struct SpecialRange {
  std::string_view prefix;
  unsigned length;
  std::string_view name;
};

// Every entry of the IANA IPv4 Special-Purpose Address Registry (RFC 6890 and its updates),
// nested entries included, plus multicast. All are refused, including the blocks the registry
// marks globally reachable (192.0.0.9/32, 192.31.196.0/24, ...): no webhook receiver lives in
// them, and one rule without exceptions is simpler to check and safer.
constexpr SpecialRange kSpecialV4[] = {
    {"0.0.0.0", 8, "this network"},
    {"0.0.0.0", 32, "this host on this network"},
    {"10.0.0.0", 8, "private-use"},
    {"100.64.0.0", 10, "shared address space (carrier-grade NAT)"},
    {"127.0.0.0", 8, "loopback"},
    {"169.254.0.0", 16, "link-local"},
    {"172.16.0.0", 12, "private-use"},
    {"192.0.0.0", 24, "IETF protocol assignments"},
    {"192.0.0.0", 29, "IPv4 service continuity prefix"},
    {"192.0.0.8", 32, "IPv4 dummy address"},
    {"192.0.0.9", 32, "port control protocol anycast"},
    {"192.0.0.10", 32, "TURN anycast"},
    {"192.0.0.170", 32, "NAT64/DNS64 discovery"},
    {"192.0.0.171", 32, "NAT64/DNS64 discovery"},
    {"192.0.2.0", 24, "documentation (TEST-NET-1)"},
    {"192.31.196.0", 24, "AS112-v4"},
    {"192.52.193.0", 24, "AMT"},
    {"192.88.99.0", 24, "deprecated 6to4 relay anycast"},
    {"192.88.99.2", 32, "6a44 relay anycast"},
    {"192.168.0.0", 16, "private-use"},
    {"192.175.48.0", 24, "direct delegation AS112 service"},
    {"198.18.0.0", 15, "benchmarking"},
    {"198.51.100.0", 24, "documentation (TEST-NET-2)"},
    {"203.0.113.0", 24, "documentation (TEST-NET-3)"},
    {"224.0.0.0", 4, "multicast"},
    {"240.0.0.0", 4, "reserved"},
    {"255.255.255.255", 32, "limited broadcast"},
};

// Every entry of the IANA IPv6 Special-Purpose Address Registry, refused like the IPv4 ones
// whether or not marked globally reachable, plus older or unlisted forms. Outside global
// unicast 2000::/3 nothing passes anyway (see special_purpose_range); the entries there only
// name what they refuse. Every form that embeds an IPv4 address (IPv4-compatible, -mapped,
// SIIT, NAT64 well-known and local-use, 6to4, Teredo) is refused whole, so no embedded IPv4
// address needs judging. A network-specific NAT64 prefix cannot be recognised by its address.
constexpr SpecialRange kSpecialV6[] = {
    {"::", 128, "unspecified"},
    {"::1", 128, "loopback"},
    {"::", 96, "IPv4-compatible (deprecated)"},
    {"::ffff:0:0", 96, "IPv4-mapped"},
    {"::ffff:0:0:0", 96, "IPv4-translated (SIIT)"},
    {"64:ff9b::", 96, "IPv4-IPv6 translation (NAT64 well-known prefix)"},
    {"64:ff9b:1::", 48, "IPv4-IPv6 translation (NAT64 local-use)"},
    {"100::", 64, "discard-only"},
    {"100:0:0:1::", 64, "dummy IPv6 prefix"},
    {"2001::", 23, "IETF protocol assignments"},
    {"2001::", 32, "Teredo"},
    {"2001:1::1", 128, "port control protocol anycast"},
    {"2001:1::2", 128, "TURN anycast"},
    {"2001:1::3", 128, "DNS-SD service registration protocol anycast"},
    {"2001:2::", 48, "benchmarking"},
    {"2001:3::", 32, "AMT"},
    {"2001:4:112::", 48, "AS112-v6"},
    {"2001:10::", 28, "deprecated ORCHID"},
    {"2001:20::", 28, "ORCHIDv2"},
    {"2001:30::", 28, "drone remote ID entity tags"},
    {"2001:db8::", 32, "documentation"},
    {"2002::", 16, "6to4"},
    {"2620:4f:8000::", 48, "direct delegation AS112 service"},
    {"3fff::", 20, "documentation"},
    {"5f00::", 16, "segment routing (SRv6) SIDs"},
    {"fc00::", 7, "unique-local"},
    {"fe80::", 10, "link-local unicast"},
    {"fec0::", 10, "site-local (deprecated)"},
    {"ff00::", 8, "multicast"},
};

// Whether the first `length` bits of `address` and `prefix` agree.
template <size_t N>
bool has_prefix(const std::array<unsigned char, N>& address,
                const std::array<unsigned char, N>& prefix, unsigned length) {
  size_t whole = length / 8;
  if (!std::equal(address.begin(), address.begin() + whole, prefix.begin())) return false;
  if (length % 8 == 0) return true;
  auto mask = static_cast<unsigned char>(0xFF << (8 - length % 8));
  return (address[whole] & mask) == (prefix[whole] & mask);
}

template <size_t N>
struct ParsedRange {
  std::array<unsigned char, N> prefix;
  unsigned length;
  std::string_view name;
};

// The table with its prefixes parsed; a prefix that does not parse is a broken invariant.
template <size_t N, typename Parse>
std::vector<ParsedRange<N>> parse_table(std::span<const SpecialRange> table, Parse parse) {
  std::vector<ParsedRange<N>> parsed;
  for (const auto& range : table) parsed.push_back({parse(range.prefix), range.length, range.name});
  return parsed;
}

// The name of the longest prefix in `table` that `address` has, so that a nested entry (Teredo
// in 2001::/23) is named rather than the block around it.
template <size_t N>
std::optional<std::string_view> longest_match(const std::array<unsigned char, N>& address,
                                              const std::vector<ParsedRange<N>>& table) {
  const ParsedRange<N>* best = nullptr;
  for (const auto& range : table)
    if (has_prefix(address, range.prefix, range.length) && (!best || range.length > best->length))
      best = &range;
  if (!best) return std::nullopt;
  return best->name;
}

}  // namespace

std::optional<std::string_view> special_purpose_range(const boost::asio::ip::address& address) {
  namespace ip = boost::asio::ip;
  if (address.is_v4()) {
    static const auto table = parse_table<4>(
        kSpecialV4, [](std::string_view text) { return ip::make_address_v4(text).to_bytes(); });
    return longest_match(address.to_v4().to_bytes(), table);
  }
  static const auto table = parse_table<16>(
      kSpecialV6, [](std::string_view text) { return ip::make_address_v6(text).to_bytes(); });
  auto bytes = address.to_v6().to_bytes();
  if (auto name = longest_match(bytes, table)) return name;
  // Only global unicast may pass: the rest of the space is unassigned or reserved by the IETF.
  if ((bytes[0] & 0xE0) != 0x20) return "outside global unicast 2000::/3";
  return std::nullopt;
}

bool is_private_address(const boost::asio::ip::address& address) {
  return special_purpose_range(address).has_value();
}

namespace {

using Resolved = std::pair<boost::system::error_code, boost::asio::ip::tcp::resolver::results_type>;

// Lookups in flight, each on a thread of its own: a name whose servers never answer holds its
// thread (getaddrinfo cannot be cancelled), never an API thread past kResolveTimeout, and never
// another tenant's lookup. Past kMaxLookups the creation is refused until some return.
std::atomic<int> lookups_in_flight{0};

}  // namespace

Status check_destination(const Url& url, bool allow_private) {
  if (lookups_in_flight.fetch_add(1) >= kMaxLookups) {
    lookups_in_flight.fetch_sub(1);
    return {Code::kUnavailable, "Too many webhook URLs are being resolved; try again shortly"};
  }
  auto answer = std::make_shared<std::promise<Resolved>>();
  auto resolved = answer->get_future();
  std::thread([answer, host = url.host, port = std::to_string(url.port)] {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::resolver resolver(ioc);
    Resolved r;
    r.second = resolver.resolve(host, port, r.first);
    answer->set_value(std::move(r));
    lookups_in_flight.fetch_sub(1);
  }).detach();
  if (resolved.wait_for(kResolveTimeout) != std::future_status::ready)
    return invalid("url host " + url.host + " was not resolved within " +
                   std::to_string(kResolveTimeout.count()) + " s");
  auto [ec, results] = resolved.get();
  if (ec || results.empty()) return invalid("url host " + url.host + " could not be resolved");
  if (allow_private) return {};
  for (const auto& entry : results)
    if (is_private_address(entry.endpoint().address()))
      return invalid(
          "url must not resolve to a private, loopback, link-local or other special-purpose "
          "address");
  return {};
}

}  // namespace contacts
