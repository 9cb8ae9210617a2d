// The webhooks library without a network: URL rules, the delivery format and signatures
// (DESIGN.md section 7), the retry schedule flag, and the DeliveryStore in a temporary directory.
#include <doctest/doctest.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "core/text.h"
#include "tests/temp_dir.h"
#include "webhooks/delivery_store.h"
#include "webhooks/dispatcher.h"
#include "webhooks/signing.h"
#include "webhooks/url.h"

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

// ---------------------------------------------------------------------------------------------
// Signing: secrets, timestamps, the body and both signatures

TEST_CASE(
    "new_webhook_secret is whsec_ and the padded base64 of 32 random bytes, different each time") {
  std::set<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    std::string secret = new_webhook_secret();
    INFO(secret);
    REQUIRE(secret.size() == 6 + 44);
    CHECK(secret.rfind("whsec_", 0) == 0);
    CHECK(secret.back() == '=');
    for (size_t at = 6; at + 1 < secret.size(); ++at) {
      char ch = secret[at];
      bool standard_alphabet = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                               (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
      CHECK(standard_alphabet);
    }
    std::string decoded;
    REQUIRE(base64_decode(secret.substr(6), decoded));
    CHECK(decoded.size() == 32);
    seen.insert(secret);
  }
  CHECK(seen.size() == 4);
}

TEST_CASE("iso8601_millis formats unix seconds in UTC with .000 milliseconds") {
  CHECK(iso8601_millis(0) == "1970-01-01T00:00:00.000Z");
  // python3: datetime.fromtimestamp(1711586400, timezone.utc) -> 2024-03-28 00:40:00+00:00
  CHECK(iso8601_millis(1711586400) == "2024-03-28T00:40:00.000Z");
  CHECK(iso8601_millis(951782400) == "2000-02-29T00:00:00.000Z");  // a leap day
  CHECK(iso8601_millis(1711586399) == "2024-03-28T00:39:59.000Z");
}

TEST_CASE("delivery_body is compact JSON in the order event, timestamp, data{id, name, email}") {
  CHECK(delivery_body("contact.deleted", "2024-03-28T00:40:00.000Z", 1, "Alice Martin",
                      std::string("alice@example.com")) ==
        R"({"event":"contact.deleted","timestamp":"2024-03-28T00:40:00.000Z",)"
        R"("data":{"id":1,"name":"Alice Martin","email":"alice@example.com"}})");
}

TEST_CASE(
    "delivery_body writes a missing email as null and non-ASCII names as raw UTF-8, escaping "
    "quotes") {
  // "Élodie \"Zoë\" 日本"
  const std::string name = "\xC3\x89lodie \"Zo\xC3\xAB\" \xE6\x97\xA5\xE6\x9C\xAC";
  const std::string expected =
      "{\"event\":\"contact.created\",\"timestamp\":\"1970-01-01T00:00:00.000Z\","
      "\"data\":{\"id\":7,\"name\":\"\xC3\x89lodie \\\"Zo\xC3\xAB\\\" "
      "\xE6\x97\xA5\xE6\x9C\xAC\",\"email\":null}}";
  CHECK(delivery_body("contact.created", "1970-01-01T00:00:00.000Z", 7, name, std::nullopt) ==
        expected);
  CHECK(
      delivery_body("contact.updated", "t", 9007199254740991, "", std::nullopt) ==
      R"({"event":"contact.updated","timestamp":"t","data":{"id":9007199254740991,"name":"","email":null}})");
}

// The example body of DESIGN.md section 7.
const std::string kExampleBody =
    R"({"event":"contact.deleted","timestamp":"2024-03-28T00:40:00.000Z",)"
    R"("data":{"id":1,"name":"Alice Martin","email":"alice@example.com"}})";

TEST_CASE("x_webhook_signature is lower-case hex HMAC-SHA256 keyed with the whole secret string") {
  // python3: hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
  CHECK(x_webhook_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", kExampleBody) ==
        "5b59348e82b439f76e945a6f4489891cbdba9d5a5f59194a4939a3fb73da8f15");
  CHECK(x_webhook_signature("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", kExampleBody) ==
        "d4859ca3a3ca85b236fcae45ba8bc6ad50864c1fc67a2109bcd31361fd682ebe");
}

TEST_CASE("standard_webhook_signature matches the Standard Webhooks reference test vector") {
  // python3: key = b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  // "v1," + b64encode(hmac(key, b'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}'))
  CHECK(standard_webhook_signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
            R"({"test": 2432232314})") == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST_CASE("standard_webhook_signature keys with the decoded secret and signs id.timestamp.body") {
  // python3: key = bytes(range(32)); message "msg_42.1711586400." + body
  CHECK(standard_webhook_signature("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "msg_42",
                                   1711586400, kExampleBody) ==
        "v1,XDjOzYMr9Uy/6dO5Y0PWhTXFDoekVQRkIC6xHafQCxM=");
  // Any change of id, timestamp or body changes the signature.
  const std::string secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  const std::string base = standard_webhook_signature(secret, "msg_42", 1711586400, kExampleBody);
  CHECK(standard_webhook_signature(secret, "msg_43", 1711586400, kExampleBody) != base);
  CHECK(standard_webhook_signature(secret, "msg_42", 1711586401, kExampleBody) != base);
  CHECK(standard_webhook_signature(secret, "msg_42", 1711586400, kExampleBody + " ") != base);
}

// ---------------------------------------------------------------------------------------------
// The retry schedule flag

TEST_CASE("parse_retry_schedule reads positive seconds separated by commas") {
  auto two = parse_retry_schedule("5,300");
  REQUIRE(two.ok());
  CHECK(*two == std::vector<int64_t>{5, 300});
  auto one = parse_retry_schedule("1");
  REQUIRE(one.ok());
  CHECK(*one == std::vector<int64_t>{1});
  auto standard = parse_retry_schedule(kDefaultRetrySchedule);
  REQUIRE(standard.ok());
  CHECK(*standard == std::vector<int64_t>{5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400});
}

TEST_CASE("parse_retry_schedule refuses empty items, zero, negatives, letters and spaces") {
  for (const char* text :
       {"", "0", "-1", "a", "5,,6", "5, 6", " 5", "5,", ",5", "5,0", "5x", "1.5", "2592001"}) {
    INFO("schedule: \"", text, "\"");
    auto schedule = parse_retry_schedule(text);
    REQUIRE_FALSE(schedule.ok());
    CHECK(schedule.status().code() == Code::kInvalid);
    CHECK(schedule.status().message().find("retry schedule") != std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------------
// DeliveryStore

// A DeliveryStore in a fresh directory, removed afterwards.
class StoreFixture {
 public:
  StoreFixture() { reopen(); }
  void reopen() {
    store.reset();
    auto opened = DeliveryStore::open(dir_.path() + "/webhooks");
    REQUIRE_MESSAGE(opened.ok(), opened.status().message());
    store = std::move(*opened);
  }

 private:
  TempDir dir_{"webhooks_test"};  // declared first: outlives the store

 public:
  std::unique_ptr<DeliveryStore> store;
};

const WorkspaceId kWs(2);

Delivery pending_delivery(int64_t webhook_id, int64_t position, int64_t due_ms,
                          WorkspaceId ws = kWs) {
  Delivery d;
  d.ref = {ws, webhook_id, position};
  d.event = "contact.created";
  d.body = R"({"event":"contact.created","position":)" + std::to_string(position) + "}";
  d.timestamp = "2024-03-28T00:40:00.000Z";
  d.created_at = 1711586400;
  d.next_attempt_ms = due_ms;
  return d;
}

std::vector<int64_t> positions_of(const std::vector<std::pair<int64_t, DeliveryRef>>& due) {
  std::vector<int64_t> out;
  for (const auto& [due_ms, ref] : due) out.push_back(ref.position);
  return out;
}

std::vector<int64_t> positions_of(const DeliveryPage& page) {
  std::vector<int64_t> out;
  for (const auto& d : page.deliveries) out.push_back(d.ref.position);
  return out;
}

TEST_CASE("DeliveryStore: add records each delivery once and get returns it field for field") {
  StoreFixture f;
  Delivery d = pending_delivery(11, 30, 5000);
  auto first = f.store->add({d});
  REQUIRE(first.ok());
  CHECK(*first == 1);
  auto again = f.store->add({d});
  REQUIRE(again.ok());
  CHECK(*again == 0);
  // The same ref twice in one call, next to a new one: one new.
  auto mixed = f.store->add({d, pending_delivery(11, 31, 6000), pending_delivery(11, 31, 6000)});
  REQUIRE(mixed.ok());
  CHECK(*mixed == 1);

  CHECK(f.store->exists(d.ref));
  CHECK_FALSE(f.store->exists({kWs, 11, 32}));
  CHECK_FALSE(f.store->exists({WorkspaceId(3), 11, 30}));
  auto got = f.store->get(d.ref);
  REQUIRE(got.has_value());
  CHECK(got->ref == d.ref);
  CHECK(got->event == d.event);
  CHECK(got->body == d.body);
  CHECK(got->timestamp == d.timestamp);
  CHECK(got->created_at == d.created_at);
  CHECK(got->state == DeliveryState::kPending);
  CHECK(got->attempts == 0);
  CHECK_FALSE(got->last_status.has_value());
  CHECK_FALSE(got->last_error.has_value());
  CHECK_FALSE(got->last_attempt_at.has_value());
  CHECK(got->next_attempt_ms == std::optional<int64_t>(5000));
  CHECK(got->message_id() == "msg_30");
  CHECK_FALSE(f.store->get({kWs, 12, 30}).has_value());

  CHECK(f.store->pending() == 2);
  CHECK(f.store->list(kWs, 11, 1, 10).total == 2);
}

TEST_CASE("DeliveryStore: due lists attempts due by now_ms, earliest first, at most max") {
  StoreFixture f;
  REQUIRE(f.store
              ->add({pending_delivery(1, 10, 3000), pending_delivery(1, 11, 1000),
                     pending_delivery(2, 12, 2000), pending_delivery(1, 13, 2000, WorkspaceId(3)),
                     pending_delivery(1, 14, 9000)})
              .ok());
  auto due = f.store->due(2000, 100);
  // 1000, then the two at 2000 in (ws, webhook, position) order.
  CHECK(positions_of(due) == std::vector<int64_t>{11, 12, 13});
  REQUIRE(due.size() == 3);
  CHECK(due[0].first == 1000);
  CHECK(due[0].second == DeliveryRef{kWs, 1, 11});
  CHECK(due[1].first == 2000);
  CHECK(due[1].second == DeliveryRef{kWs, 2, 12});
  CHECK(due[2].second == DeliveryRef{WorkspaceId(3), 1, 13});

  CHECK(f.store->due(999, 100).empty());
  CHECK(positions_of(f.store->due(1000, 100)) ==
        std::vector<int64_t>{11});  // due_ms == now_ms is due
  CHECK(positions_of(f.store->due(1999, 100)) == std::vector<int64_t>{11});
  CHECK(positions_of(f.store->due(8999, 100)) == std::vector<int64_t>{11, 12, 13, 10});
  CHECK(positions_of(f.store->due(100000, 100)) == std::vector<int64_t>{11, 12, 13, 10, 14});
  CHECK(positions_of(f.store->due(100000, 2)) == std::vector<int64_t>{11, 12});
  CHECK(f.store->pending() == 5);
}

TEST_CASE("DeliveryStore: due steps over what `skip` names without counting it toward max") {
  StoreFixture f;
  std::vector<Delivery> backlog;
  for (int64_t p = 100; p < 150; ++p)
    backlog.push_back(pending_delivery(1, p, 1000));  // one busy webhook
  backlog.push_back(pending_delivery(2, 200, 5000));  // due later
  REQUIRE(f.store->add(backlog).ok());
  auto busy = [](const DeliveryRef& r) { return r.webhook_id == 1; };
  CHECK(positions_of(f.store->due(10000, 3, busy)) == std::vector<int64_t>{200});
  CHECK(positions_of(f.store->due(10000, 3)) == std::vector<int64_t>{100, 101, 102});
}

TEST_CASE("DeliveryStore: a delivery that is not pending is recorded but never due") {
  StoreFixture f;
  Delivery done = pending_delivery(1, 10, 1000);
  done.state = DeliveryState::kCancelled;
  Delivery unscheduled = pending_delivery(1, 11, 0);
  unscheduled.next_attempt_ms.reset();
  auto added = f.store->add({done, unscheduled});
  REQUIRE(added.ok());
  CHECK(*added == 2);
  CHECK(f.store->due(100000, 10).empty());
  CHECK(f.store->pending() == 0);
  CHECK(f.store->list(kWs, 1, 1, 10).total == 2);
  CHECK(f.store->get(done.ref)->state == DeliveryState::kCancelled);
}

TEST_CASE("DeliveryStore: update moves the due entry to the next attempt, and out once succeeded") {
  StoreFixture f;
  Delivery d = pending_delivery(1, 10, 1000);
  REQUIRE(f.store->add({d, pending_delivery(1, 11, 1500)}).ok());

  // A failed attempt: a retry at 6000.
  d.attempts = 1;
  d.last_status = 503;
  d.last_error = "HTTP 503";
  d.last_attempt_at = 1;
  d.next_attempt_ms = 6000;
  REQUIRE(f.store->update(d, 1000).ok());
  CHECK(positions_of(f.store->due(5999, 10)) == std::vector<int64_t>{11});
  auto later = f.store->due(6000, 10);
  CHECK(positions_of(later) == std::vector<int64_t>{11, 10});
  REQUIRE(later.size() == 2);
  CHECK(later[1].first == 6000);
  CHECK(f.store->pending() == 2);
  auto stored = f.store->get(d.ref);
  REQUIRE(stored.has_value());
  CHECK(stored->attempts == 1);
  CHECK(stored->last_status == std::optional<int>(503));
  CHECK(stored->last_error == std::optional<std::string>("HTTP 503"));
  CHECK(stored->last_attempt_at == std::optional<int64_t>(1));
  CHECK(stored->next_attempt_ms == std::optional<int64_t>(6000));

  // Success: out of the due index, kept in the list.
  d.attempts = 2;
  d.state = DeliveryState::kSucceeded;
  d.last_status = 204;
  d.last_error.reset();
  d.last_attempt_at = 6;
  d.next_attempt_ms.reset();
  REQUIRE(f.store->update(d, 6000).ok());
  CHECK(positions_of(f.store->due(100000, 10)) == std::vector<int64_t>{11});
  CHECK(f.store->pending() == 1);
  stored = f.store->get(d.ref);
  REQUIRE(stored.has_value());
  CHECK(stored->state == DeliveryState::kSucceeded);
  CHECK(stored->attempts == 2);
  CHECK(stored->last_status == std::optional<int>(204));
  CHECK_FALSE(stored->last_error.has_value());
  CHECK_FALSE(stored->next_attempt_ms.has_value());
  CHECK(f.store->list(kWs, 1, 1, 10).total == 2);

  // Giving up: failed, likewise out of the index.
  Delivery other = *f.store->get({kWs, 1, 11});
  other.state = DeliveryState::kFailed;
  other.attempts = 10;
  other.next_attempt_ms.reset();
  REQUIRE(f.store->update(other, 1500).ok());
  CHECK(f.store->due(100000, 10).empty());
  CHECK(f.store->pending() == 0);
  CHECK(f.store->get({kWs, 1, 11})->state == DeliveryState::kFailed);
}

TEST_CASE("DeliveryStore: list is newest first (higher position first), paged, with the total") {
  StoreFixture f;
  std::vector<Delivery> batch;
  for (int64_t position : {5, 40, 7, 300, 12}) batch.push_back(pending_delivery(1, position, 1000));
  batch.push_back(pending_delivery(2, 99, 1000));                  // another webhook
  batch.push_back(pending_delivery(1, 98, 1000, WorkspaceId(3)));  // another workspace
  REQUIRE(f.store->add(batch).ok());
  REQUIRE(f.store->add({pending_delivery(1, 1000, 1000)}).ok());

  auto all = f.store->list(kWs, 1, 1, 100);
  CHECK(all.total == 6);
  CHECK(positions_of(all) == std::vector<int64_t>{1000, 300, 40, 12, 7, 5});
  CHECK(all.deliveries[1].body == pending_delivery(1, 300, 0).body);

  auto page1 = f.store->list(kWs, 1, 1, 4);
  auto page2 = f.store->list(kWs, 1, 2, 4);
  auto page3 = f.store->list(kWs, 1, 3, 4);
  CHECK(positions_of(page1) == std::vector<int64_t>{1000, 300, 40, 12});
  CHECK(positions_of(page2) == std::vector<int64_t>{7, 5});
  CHECK(page3.deliveries.empty());
  CHECK(page1.total == 6);
  CHECK(page2.total == 6);
  CHECK(page3.total == 6);

  auto other_webhook = f.store->list(kWs, 2, 1, 100);
  CHECK(other_webhook.total == 1);
  CHECK(positions_of(other_webhook) == std::vector<int64_t>{99});
  auto other_workspace = f.store->list(WorkspaceId(3), 1, 1, 100);
  CHECK(other_workspace.total == 1);
  CHECK(positions_of(other_workspace) == std::vector<int64_t>{98});
  auto none = f.store->list(kWs, 3, 1, 100);
  CHECK(none.total == 0);
  CHECK(none.deliveries.empty());
}

TEST_CASE("DeliveryStore: a reopened store still has its deliveries, due index and counts") {
  StoreFixture f;
  Delivery d = pending_delivery(1, 10, 1000);
  REQUIRE(f.store->add({d, pending_delivery(1, 11, 2000)}).ok());
  d.state = DeliveryState::kSucceeded;
  d.attempts = 1;
  d.last_status = 200;
  d.next_attempt_ms.reset();
  REQUIRE(f.store->update(d, 1000).ok());

  f.reopen();
  auto stored = f.store->get(d.ref);
  REQUIRE(stored.has_value());
  CHECK(stored->state == DeliveryState::kSucceeded);
  CHECK(stored->last_status == std::optional<int>(200));
  CHECK(f.store->pending() == 1);
  CHECK(positions_of(f.store->due(100000, 10)) == std::vector<int64_t>{11});
  auto page = f.store->list(kWs, 1, 1, 10);
  CHECK(page.total == 2);
  CHECK(positions_of(page) == std::vector<int64_t>{11, 10});
  // Still once only after a restart.
  auto again = f.store->add({pending_delivery(1, 11, 2000)});
  REQUIRE(again.ok());
  CHECK(*again == 0);
  CHECK(f.store->list(kWs, 1, 1, 10).total == 2);
}

TEST_CASE(
    "Delivery::to_api_json serves the message id, state and next attempt rounded up to seconds") {
  Delivery d = pending_delivery(1, 42, 1711586400001);
  d.attempts = 1;
  d.last_status = 500;
  d.last_error = "HTTP 500";
  d.last_attempt_at = 1711586395;
  CHECK(d.to_api_json() ==
        R"({"message_id":"msg_42","event":"contact.created","state":"pending","attempts":1,)"
        R"("last_status_code":500,"last_error":"HTTP 500","last_attempt_at":1711586395,)"
        R"("next_attempt_at":1711586401,"created_at":1711586400})");
  d.state = DeliveryState::kSucceeded;
  d.last_status.reset();
  d.last_error.reset();
  d.last_attempt_at.reset();
  d.next_attempt_ms.reset();
  CHECK(d.to_api_json() ==
        R"({"message_id":"msg_42","event":"contact.created","state":"succeeded","attempts":1,)"
        R"("last_status_code":null,"last_error":null,"last_attempt_at":null,)"
        R"("next_attempt_at":null,"created_at":1711586400})");
}

}  // namespace
}  // namespace contacts
