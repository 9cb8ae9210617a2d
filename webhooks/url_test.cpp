// URL rules of webhook endpoints without a network: parsing, the Host header, and the
// private-address rule checked at creation and at each attempt (DESIGN.md section 7).
#include "webhooks/url.h"

#include <doctest/doctest.h>

#include <boost/asio/ip/address.hpp>
#include <string>
#include <vector>

namespace contacts {
namespace {

Url parsed(std::string_view text) {
  auto url = parse_url(text);
  REQUIRE_MESSAGE(url.ok(), text, ": ", url.status().message());
  return *url;
}

bool is_private(const char* text) {
  return is_private_address(boost::asio::ip::make_address(text));
}

// ---------------------------------------------------------------------------------------------
// parse_url and host_header

TEST_CASE("parse_url: http and https get their default ports and a target of at least /") {
  Url http = parsed("http://example.com");
  CHECK_FALSE(http.https);
  CHECK(http.host == "example.com");
  CHECK(http.port == 80);
  CHECK(http.target == "/");

  Url https = parsed("https://example.com/hooks/in?a=1&b=2");
  CHECK(https.https);
  CHECK(https.host == "example.com");
  CHECK(https.port == 443);
  CHECK(https.target == "/hooks/in?a=1&b=2");
}

TEST_CASE("parse_url: an explicit port is kept and the host is lower-cased") {
  Url url = parsed("http://Hooks.Example.COM:8080/in");
  CHECK(url.host == "hooks.example.com");
  CHECK(url.port == 8080);
  CHECK(url.target == "/in");
  CHECK(parsed("https://example.com:1/").port == 1);
  CHECK(parsed("https://example.com:65535/").port == 65535);
}

TEST_CASE("parse_url: an IPv6 literal in brackets gives the host without brackets") {
  Url url = parsed("http://[2001:db8::1]:9000/x");
  CHECK(url.host == "2001:db8::1");
  CHECK(url.port == 9000);
  CHECK(url.target == "/x");
  Url plain = parsed("https://[::1]");
  CHECK(plain.host == "::1");
  CHECK(plain.port == 443);
  CHECK(plain.target == "/");
}

TEST_CASE("parse_url: a query without a path gets the target /?query") {
  Url url = parsed("http://example.com?x");
  CHECK(url.host == "example.com");
  CHECK(url.target == "/?x");
  CHECK(parsed("http://example.com:81?a=b").target == "/?a=b");
  CHECK(parsed("http://example.com:81?a=b").port == 81);
}

TEST_CASE(
    "parse_url refuses user info, fragments, bad ports, a missing host, other schemes and spaces") {
  struct Bad {
    const char* url;
    const char* reason;  // a fragment of the expected message
  };
  const std::vector<Bad> bad = {
      {"http://user:pass@example.com/", "user info"},
      {"http://user@example.com/", "user info"},
      {"http://example.com/#frag", "fragment"},
      {"http://example.com#frag", "fragment"},
      {"http://example.com:0/", "invalid port"},
      {"http://example.com:65536/", "invalid port"},
      {"http://example.com:abc/", "invalid port"},
      {"http://example.com:80abc/", "invalid port"},
      {"http://example.com:-1/", "invalid port"},
      {"http://[::1]:0/", "invalid port"},
      {"http:///path", "host"},
      {"http://", "host"},
      {"http://:8080/", "host"},
      {"https://?x", "host"},
      {"http://[]/", "host"},
      {"http://[::1/", "unterminated"},
      {"http://[::1]x/", "after its IPv6"},
      {"ftp://example.com/", "http:// or https://"},
      {"HTTP://example.com/", "http:// or https://"},
      {"example.com/", "http:// or https://"},
      {"javascript:alert(1)", "http:// or https://"},
      {"", "http:// or https://"},
      {"http://exa mple.com/", "spaces"},
      {"http://example.com/a b", "spaces"},
      {"http://example.com/\t", "spaces"},
      {"http://example.com/\xC3\xA9", "spaces"},
  };
  for (const auto& [text, reason] : bad) {
    INFO("url: ", text);
    auto url = parse_url(text);
    REQUIRE_FALSE(url.ok());
    CHECK(url.status().code() == Code::kInvalid);
    CHECK_MESSAGE(url.status().message().find(reason) != std::string::npos, url.status().message());
  }
}

TEST_CASE(
    "host_header names the port only when it is not the scheme's default, and brackets IPv6") {
  CHECK(parsed("http://example.com/").host_header() == "example.com");
  CHECK(parsed("http://example.com:80/").host_header() == "example.com");
  CHECK(parsed("https://example.com:443/").host_header() == "example.com");
  CHECK(parsed("http://example.com:443/").host_header() == "example.com:443");
  CHECK(parsed("https://example.com:80/").host_header() == "example.com:80");
  CHECK(parsed("https://example.com:8443/").host_header() == "example.com:8443");
  CHECK(parsed("http://[::1]/").host_header() == "[::1]");
  CHECK(parsed("http://[::1]:8080/").host_header() == "[::1]:8080");
}

// ---------------------------------------------------------------------------------------------
// The private-address rule

TEST_CASE(
    "is_private_address: loopback, RFC 1918, link-local, CGNAT, unspecified, multicast, "
    "broadcast") {
  for (const char* address :
       {"127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255", "172.16.0.1",
        "172.31.255.255", "192.168.0.1", "192.168.255.255", "169.254.169.254", "169.254.0.1",
        "100.64.0.1", "100.127.255.255", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.255",
        "240.0.0.1", "255.255.255.255"}) {
    INFO(address);
    CHECK(is_private(address));
  }
}

TEST_CASE(
    "is_private_address: IPv6 loopback, unspecified, link-local, unique local, multicast, "
    "v4-mapped") {
  for (const char* address :
       {"::1", "::", "fe80::1", "fe80::abcd:1", "fc00::1", "fd12::1", "fdff:ffff::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::ffff:192.168.1.1"}) {
    INFO(address);
    CHECK(is_private(address));
  }
}

TEST_CASE(
    "is_private_address: every IPv6 form that embeds an IPv4 address is refused, public IPv4 "
    "included") {
  // IPv4-compatible, IPv4-mapped, SIIT, NAT64 well-known and local-use, 6to4, Teredo.
  for (const char* address :
       {"::127.0.0.1", "::10.0.0.1", "::8.8.8.8", "::ffff:8.8.8.8", "::ffff:0:8.8.8.8",
        "::ffff:0:10.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::192.168.0.1", "64:ff9b::808:808",
        "64:ff9b:1::808:808", "64:ff9b:1::a00:1", "2002:7f00:1::1", "2002:a00:1::",
        "2002:808:808::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::f7f7:f7f7"}) {
    INFO(address);
    CHECK(is_private(address));
  }
}

TEST_CASE("parse_url refuses an IPv6 address without brackets") {
  auto url = parse_url("http://::1/");
  REQUIRE_FALSE(url.ok());
  CHECK(url.status().message().find("brackets") != std::string::npos);
}

TEST_CASE(
    "is_private_address: public addresses, and the edges of the private ranges, are not private") {
  for (const char* address :
       {"8.8.8.8", "1.1.1.1", "93.184.216.34", "172.15.255.255", "172.32.0.1", "192.167.255.255",
        "192.169.0.1", "169.253.255.255", "169.255.0.1", "100.63.255.255", "100.128.0.1",
        "11.0.0.1", "9.255.255.255", "126.255.255.255", "128.0.0.1", "223.255.255.255",
        "2606:4700::1111", "2001:4860:4860::8888"}) {
    INFO(address);
    CHECK_FALSE(is_private(address));
  }
}

// Each block of the IANA IPv4 and IPv6 Special-Purpose Address Registries, nested entries
// included, and multicast and reserved space: its first and last address are refused, and the
// addresses just outside it pass where no other rule refuses them (nullptr where one does).
struct RefusedRange {
  const char* range;  // as the registry writes it
  const char* name;   // what special_purpose_range names its first or last address
  const char* first;
  const char* last;
  const char* below;  // the address before `first`, when it may be used
  const char* above;  // the address after `last`, when it may be used
};

const RefusedRange kRefusedRanges[] = {
    {"0.0.0.0/8", "this network", "0.0.0.0", "0.255.255.255", nullptr, "1.0.0.0"},
    {"0.0.0.0/32", "this host on this network", "0.0.0.0", "0.0.0.0", nullptr, nullptr},
    {"10.0.0.0/8", "private-use", "10.0.0.0", "10.255.255.255", "9.255.255.255", "11.0.0.0"},
    {"100.64.0.0/10", "shared address space (carrier-grade NAT)", "100.64.0.0", "100.127.255.255",
     "100.63.255.255", "100.128.0.0"},
    {"127.0.0.0/8", "loopback", "127.0.0.0", "127.255.255.255", "126.255.255.255", "128.0.0.0"},
    {"169.254.0.0/16", "link-local", "169.254.0.0", "169.254.255.255", "169.253.255.255",
     "169.255.0.0"},
    {"172.16.0.0/12", "private-use", "172.16.0.0", "172.31.255.255", "172.15.255.255",
     "172.32.0.0"},
    {"192.0.0.0/24", "IETF protocol assignments", "192.0.0.0", "192.0.0.255", "191.255.255.255",
     "192.0.1.0"},
    {"192.0.0.0/29", "IPv4 service continuity prefix", "192.0.0.0", "192.0.0.7", "191.255.255.255",
     nullptr},
    {"192.0.0.8/32", "IPv4 dummy address", "192.0.0.8", "192.0.0.8", nullptr, nullptr},
    {"192.0.0.9/32", "port control protocol anycast", "192.0.0.9", "192.0.0.9", nullptr, nullptr},
    {"192.0.0.10/32", "TURN anycast", "192.0.0.10", "192.0.0.10", nullptr, nullptr},
    {"192.0.0.170/32", "NAT64/DNS64 discovery", "192.0.0.170", "192.0.0.170", nullptr, nullptr},
    {"192.0.0.171/32", "NAT64/DNS64 discovery", "192.0.0.171", "192.0.0.171", nullptr, nullptr},
    {"192.0.2.0/24", "documentation (TEST-NET-1)", "192.0.2.0", "192.0.2.255", "192.0.1.255",
     "192.0.3.0"},
    {"192.31.196.0/24", "AS112-v4", "192.31.196.0", "192.31.196.255", "192.31.195.255",
     "192.31.197.0"},
    {"192.52.193.0/24", "AMT", "192.52.193.0", "192.52.193.255", "192.52.192.255", "192.52.194.0"},
    {"192.88.99.0/24", "deprecated 6to4 relay anycast", "192.88.99.0", "192.88.99.255",
     "192.88.98.255", "192.88.100.0"},
    {"192.88.99.2/32", "6a44 relay anycast", "192.88.99.2", "192.88.99.2", nullptr, nullptr},
    {"192.168.0.0/16", "private-use", "192.168.0.0", "192.168.255.255", "192.167.255.255",
     "192.169.0.0"},
    {"192.175.48.0/24", "direct delegation AS112 service", "192.175.48.0", "192.175.48.255",
     "192.175.47.255", "192.175.49.0"},
    {"198.18.0.0/15", "benchmarking", "198.18.0.0", "198.19.255.255", "198.17.255.255",
     "198.20.0.0"},
    {"198.51.100.0/24", "documentation (TEST-NET-2)", "198.51.100.0", "198.51.100.255",
     "198.51.99.255", "198.51.101.0"},
    {"203.0.113.0/24", "documentation (TEST-NET-3)", "203.0.113.0", "203.0.113.255",
     "203.0.112.255", "203.0.114.0"},
    {"224.0.0.0/4", "multicast", "224.0.0.0", "239.255.255.255", "223.255.255.255", nullptr},
    {"240.0.0.0/4", "reserved", "240.0.0.0", "255.255.255.255", nullptr, nullptr},
    {"255.255.255.255/32", "limited broadcast", "255.255.255.255", "255.255.255.255", nullptr,
     nullptr},
    {"::/128", "unspecified", "::", "::", nullptr, nullptr},
    {"::1/128", "loopback", "::1", "::1", nullptr, nullptr},
    {"::/96", "IPv4-compatible (deprecated)", "::", "::ffff:ffff", nullptr, nullptr},
    {"::ffff:0:0/96", "IPv4-mapped", "::ffff:0.0.0.0", "::ffff:255.255.255.255", nullptr, nullptr},
    {"::ffff:0:0:0/96", "IPv4-translated (SIIT)", "::ffff:0:0:0", "::ffff:0:ffff:ffff", nullptr,
     nullptr},
    {"64:ff9b::/96", "IPv4-IPv6 translation (NAT64 well-known prefix)",
     "64:ff9b::", "64:ff9b::ffff:ffff", nullptr, nullptr},
    {"64:ff9b:1::/48", "IPv4-IPv6 translation (NAT64 local-use)",
     "64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", nullptr, nullptr},
    {"100::/64", "discard-only", "100::", "100::ffff:ffff:ffff:ffff", nullptr, nullptr},
    {"100:0:0:1::/64", "dummy IPv6 prefix", "100:0:0:1::", "100::1:ffff:ffff:ffff:ffff", nullptr,
     nullptr},
    {"2001::/23", "IETF protocol assignments", "2001::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
     "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:200::"},
    {"2001::/32", "Teredo", "2001::", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff",
     "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nullptr},
    {"2001:1::1/128", "port control protocol anycast", "2001:1::1", "2001:1::1", nullptr, nullptr},
    {"2001:1::2/128", "TURN anycast", "2001:1::2", "2001:1::2", nullptr, nullptr},
    {"2001:1::3/128", "DNS-SD service registration protocol anycast", "2001:1::3", "2001:1::3",
     nullptr, nullptr},
    {"2001:2::/48", "benchmarking", "2001:2::", "2001:2:0:ffff:ffff:ffff:ffff:ffff", nullptr,
     nullptr},
    {"2001:3::/32", "AMT", "2001:3::", "2001:3:ffff:ffff:ffff:ffff:ffff:ffff", nullptr, nullptr},
    {"2001:4:112::/48", "AS112-v6", "2001:4:112::", "2001:4:112:ffff:ffff:ffff:ffff:ffff", nullptr,
     nullptr},
    {"2001:10::/28", "deprecated ORCHID", "2001:10::", "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff",
     nullptr, nullptr},
    {"2001:20::/28", "ORCHIDv2", "2001:20::", "2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", nullptr,
     nullptr},
    {"2001:30::/28", "drone remote ID entity tags",
     "2001:30::", "2001:3f:ffff:ffff:ffff:ffff:ffff:ffff", nullptr, nullptr},
    {"2001:db8::/32", "documentation", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
     "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::"},
    {"2002::/16", "6to4", "2002::", "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
     "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2003::"},
    {"2620:4f:8000::/48", "direct delegation AS112 service",
     "2620:4f:8000::", "2620:4f:8000:ffff:ffff:ffff:ffff:ffff",
     "2620:4f:7fff:ffff:ffff:ffff:ffff:ffff", "2620:4f:8001::"},
    {"3fff::/20", "documentation", "3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
     "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff:1000::"},
    {"5f00::/16", "segment routing (SRv6) SIDs",
     "5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nullptr, nullptr},
    {"fc00::/7", "unique-local", "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nullptr,
     nullptr},
    {"fe80::/10", "link-local unicast", "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
     nullptr, nullptr},
    {"fec0::/10", "site-local (deprecated)", "fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
     nullptr, nullptr},
    {"ff00::/8", "multicast", "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nullptr,
     nullptr},
};

std::string name_of(const char* address) {
  auto name = special_purpose_range(boost::asio::ip::make_address(address));
  return name ? std::string(*name) : "(none)";
}

TEST_CASE(
    "special_purpose_range: every special-purpose, multicast and reserved block is refused from "
    "its first to its last address, and named") {
  for (const RefusedRange& range : kRefusedRanges) {
    INFO(range.range, " (", range.name, ")");
    CHECK_MESSAGE(is_private(range.first), range.first);
    CHECK_MESSAGE(is_private(range.last), range.last);
    CHECK((name_of(range.first) == range.name || name_of(range.last) == range.name));
    for (const char* outside : {range.below, range.above}) {
      if (outside == nullptr) continue;
      CHECK_MESSAGE(!is_private(outside), outside, " is refused as ", name_of(outside));
    }
  }
}

TEST_CASE(
    "is_private_address: in IPv6 only global unicast 2000::/3 passes; public addresses of both "
    "families pass") {
  for (const char* address : {"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "4000::", "4000::1",
                              "8000::1", "e000::1", "fbff::1", "fe00::1", "1::1", "200::1"}) {
    INFO(address);
    CHECK(name_of(address) == "outside global unicast 2000::/3");
  }
  for (const char* address :
       {"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450::1", "2000::", "2000::1",
        "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:200::1", "2001:4860:4860::8888"}) {
    INFO(address);
    CHECK_FALSE(is_private(address));
  }
}

TEST_CASE("check_destination refuses a loopback host unless private addresses are allowed") {
  Url loopback = parsed("http://127.0.0.1:9/");
  Status refused = check_destination(loopback, false);
  CHECK(refused.code() == Code::kInvalid);
  CHECK_MESSAGE(refused.message().find("private") != std::string::npos, refused.message());
  CHECK(check_destination(loopback, true).ok());

  Url mapped = parsed("http://[::ffff:10.0.0.1]:9/");
  CHECK(check_destination(mapped, false).code() == Code::kInvalid);
  CHECK(check_destination(mapped, true).ok());
}

}  // namespace
}  // namespace contacts
