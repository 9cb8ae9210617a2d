// URL rules of webhook endpoints without a network: parsing, the Host header, and the
// private-address rule checked at creation and at each attempt (DESIGN.md section 7).
#include "webhooks/url.h"

#include <doctest/doctest.h>

#include <boost/asio/ip/address.hpp>
#include <string>

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
    "is_private_address: IPv6 forms that carry an IPv4 address are judged by it; site-local is "
    "private") {
  for (const char* address :
       {"::127.0.0.1", "::10.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::192.168.0.1", "2002:7f00:1::1",
        "2002:a00:1::", "fec0::1", "feff::1"}) {
    INFO(address);
    CHECK(is_private(address));
  }
  for (const char* address : {"::8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"}) {
    INFO(address);
    CHECK_FALSE(is_private(address));
  }
}

TEST_CASE("parse_url refuses an IPv6 address without brackets") {
  auto url = parse_url("http://::1/");
  REQUIRE_FALSE(url.ok());
  CHECK(url.status().message().find("brackets") != std::string::npos);
}

TEST_CASE(
    "is_private_address: public addresses, and the edges of the private ranges, are not private") {
  for (const char* address : {"8.8.8.8",         "1.1.1.1",         "93.184.216.34",
                              "172.15.255.255",  "172.32.0.1",      "192.167.255.255",
                              "192.169.0.1",     "169.253.255.255", "169.255.0.1",
                              "100.63.255.255",  "100.128.0.1",     "11.0.0.1",
                              "9.255.255.255",   "126.255.255.255", "128.0.0.1",
                              "223.255.255.255", "2606:4700::1111", "2001:4860:4860::8888",
                              "::ffff:8.8.8.8",  "fbff::1",         "fe00::1"}) {
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
