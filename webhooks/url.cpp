#include "webhooks/url.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cctype>
#include <charconv>

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

bool is_private_address(const boost::asio::ip::address& address) {
  if (address.is_v6()) {
    auto v6 = address.to_v6();
    if (v6.is_v4_mapped())
      return is_private_address(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6));
    auto b = v6.to_bytes();
    if (v6.is_loopback() || v6.is_unspecified() || v6.is_link_local() || v6.is_multicast() ||
        v6.is_site_local() || (b[0] & 0xFE) == 0xFC)  // fc00::/7 unique local
      return true;
    // Forms that carry an IPv4 address: judged by that address. IPv4-compatible ::a.b.c.d,
    // NAT64 64:ff9b::a.b.c.d, and 6to4 2002:aabb:ccdd::/48.
    auto embedded = [&](size_t at) {
      return is_private_address(
          boost::asio::ip::address_v4({b[at], b[at + 1], b[at + 2], b[at + 3]}));
    };
    bool zeros_to_12 =
        std::all_of(b.begin(), b.begin() + 12, [](unsigned char x) { return x == 0; });
    if (zeros_to_12) return embedded(12);
    static constexpr unsigned char kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (std::equal(b.begin(), b.begin() + 12, kNat64)) return embedded(12);
    if (b[0] == 0x20 && b[1] == 0x02) return embedded(2);
    return false;
  }
  auto b = address.to_v4().to_bytes();
  return b[0] == 0 || b[0] == 10 || b[0] == 127 ||  // this network, private, loopback
         (b[0] == 169 && b[1] == 254) ||            // link-local (cloud metadata)
         (b[0] == 172 && (b[1] & 0xF0) == 16) ||    // 172.16/12
         (b[0] == 192 && b[1] == 168) ||            // 192.168/16
         (b[0] == 100 && (b[1] & 0xC0) == 64) ||    // 100.64/10 carrier-grade NAT
         b[0] >= 224;                               // multicast, reserved, broadcast
}

Status check_destination(const Url& url, bool allow_private) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::resolver resolver(ioc);
  boost::system::error_code ec;
  auto results = resolver.resolve(url.host, std::to_string(url.port), ec);
  if (ec || results.empty()) return invalid("url host " + url.host + " could not be resolved");
  if (allow_private) return {};
  for (const auto& entry : results)
    if (is_private_address(entry.endpoint().address()))
      return invalid("url must not resolve to a private, loopback or link-local address");
  return {};
}

}  // namespace contacts
