// The delivery format and both signatures (DESIGN.md section 7): secrets, timestamps, the body,
// X-Webhook-Signature and the Standard Webhooks headers.
#include "webhooks/signing.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "core/text.h"

namespace contacts {
namespace {

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

}  // namespace
}  // namespace contacts
