// Authentication primitives: HS256 JWTs and workspace API keys.
#include "api/auth.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "core/text.h"

namespace contacts {
namespace {

constexpr std::string_view kSecret = "test-secret";
constexpr int64_t kNow = 1'700'000'000;

std::string b64url(std::string_view text) { return base64_encode(text, true, false); }

// A token with the given header and payload JSON, signed with `secret`.
std::string signed_token(const std::string& header, const std::string& payload,
                         std::string_view secret) {
  std::string input = b64url(header) + "." + b64url(payload);
  return input + "." + b64url(hmac_sha256(secret, input));
}

const std::string kHeader = R"({"alg":"HS256","typ":"JWT"})";

TEST_CASE("sha256_hex and hmac_sha256 match the standard test vectors") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test case 2
  CHECK(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(constant_time_equal("abc", "abc"));
  CHECK_FALSE(constant_time_equal("abc", "abd"));
  CHECK_FALSE(constant_time_equal("abc", "abcd"));
}

TEST_CASE("a minted JWT verifies and yields its user id") {
  std::string token = mint_jwt(kSecret, 42, kNow + 60);
  auto user = verify_jwt(token, kSecret, kNow);
  REQUIRE(user.ok());
  CHECK(*user == 42);
  auto max_user = verify_jwt(mint_jwt(kSecret, 9007199254740991, kNow + 60), kSecret, kNow);
  REQUIRE(max_user.ok());
  CHECK(*max_user == 9007199254740991);
}

TEST_CASE("an expired JWT is refused, including at the exact expiry second") {
  std::string token = mint_jwt(kSecret, 42, kNow);
  auto at_expiry = verify_jwt(token, kSecret, kNow);
  REQUIRE_FALSE(at_expiry.ok());
  CHECK(at_expiry.status().code() == Code::kUnauthorized);
  CHECK_FALSE(verify_jwt(token, kSecret, kNow + 1).ok());
  CHECK(verify_jwt(token, kSecret, kNow - 1).ok());
}

TEST_CASE("a JWT signed with another secret is refused") {
  auto user = verify_jwt(mint_jwt("other-secret", 42, kNow + 60), kSecret, kNow);
  REQUIRE_FALSE(user.ok());
  CHECK(user.status().code() == Code::kUnauthorized);
  CHECK(user.status().message() == "Invalid token");
}

TEST_CASE("a JWT with a tampered payload is refused") {
  std::string token = mint_jwt(kSecret, 42, kNow + 60);
  auto first = token.find('.'), second = token.rfind('.');
  std::string forged =
      token.substr(0, first + 1) + b64url(R"({"sub":"1","exp":9999999999})") + token.substr(second);
  CHECK_FALSE(verify_jwt(forged, kSecret, kNow).ok());
}

TEST_CASE("alg none and other algorithms are refused") {
  const std::string payload = R"({"sub":"42","exp":9999999999})";
  CHECK_FALSE(verify_jwt(b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(payload) + ".",
                         kSecret, kNow)
                  .ok());
  // Even when "signed" with HS256 over the same input, the header must say HS256.
  CHECK_FALSE(verify_jwt(signed_token(R"({"alg":"none"})", payload, kSecret), kSecret, kNow).ok());
  CHECK_FALSE(verify_jwt(signed_token(R"({"alg":"HS512"})", payload, kSecret), kSecret, kNow).ok());
  CHECK_FALSE(verify_jwt(signed_token(R"({"typ":"JWT"})", payload, kSecret), kSecret, kNow).ok());
  CHECK(verify_jwt(signed_token(kHeader, payload, kSecret), kSecret, kNow).ok());
}

TEST_CASE("a numeric sub is accepted like a decimal string") {
  auto user =
      verify_jwt(signed_token(kHeader, R"({"sub":42,"exp":9999999999})", kSecret), kSecret, kNow);
  REQUIRE(user.ok());
  CHECK(*user == 42);
}

TEST_CASE("sub must be a positive id below 2^53, spelled without leading zeros") {
  for (const char* sub :
       {R"("0")", "0", R"("0001")", R"("01")", "-3", R"("-3")", R"("abc")", R"("")", R"("12a")",
        "1.5", R"("9007199254740992")", "9007199254740992", "null", "[1]"}) {
    std::string payload = std::string(R"({"sub":)") + sub + R"(,"exp":9999999999})";
    INFO(payload);
    CHECK_FALSE(verify_jwt(signed_token(kHeader, payload, kSecret), kSecret, kNow).ok());
  }
}

TEST_CASE("a JWT without exp, or with a non-numeric exp, is refused") {
  CHECK_FALSE(verify_jwt(signed_token(kHeader, R"({"sub":"42"})", kSecret), kSecret, kNow).ok());
  CHECK_FALSE(verify_jwt(signed_token(kHeader, R"({"sub":"42","exp":"9999999999"})", kSecret),
                         kSecret, kNow)
                  .ok());
  CHECK_FALSE(
      verify_jwt(signed_token(kHeader, R"({"sub":"42","exp":null})", kSecret), kSecret, kNow).ok());
  CHECK_FALSE(
      verify_jwt(signed_token(kHeader, R"({"exp":9999999999})", kSecret), kSecret, kNow).ok());
}

TEST_CASE("malformed tokens are refused") {
  std::string token = mint_jwt(kSecret, 42, kNow + 60);
  for (const std::string& bad :
       {std::string(), std::string("a.b"), token + ".x", std::string("..."),
        std::string("not a token"), token.substr(0, token.rfind('.')), std::string("*.*.*")}) {
    INFO(bad);
    CHECK_FALSE(verify_jwt(bad, kSecret, kNow).ok());
  }
  CHECK_FALSE(
      verify_jwt(signed_token("[]", R"({"sub":"42","exp":9999999999})", kSecret), kSecret, kNow)
          .ok());
  CHECK_FALSE(verify_jwt(signed_token(kHeader, "[42]", kSecret), kSecret, kNow).ok());
}

bool is_base64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

TEST_CASE(
    "generate_api_key makes lnx_ plus 43 base64url characters, a 12-character prefix and its "
    "sha256") {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    NewApiKey key = generate_api_key();
    REQUIRE(key.full_key.size() == 4 + 43);
    CHECK(key.full_key.rfind("lnx_", 0) == 0);
    for (char c : key.full_key.substr(4)) CHECK(is_base64url(c));
    CHECK(key.prefix == key.full_key.substr(0, 12));
    CHECK(key.hash == sha256_hex(key.full_key));
    CHECK(key.hash.size() == 64);
    std::string raw;
    REQUIRE(base64_decode(key.full_key.substr(4), raw));
    CHECK(raw.size() == 32);
    seen.insert(key.full_key);
  }
  CHECK(seen.size() == 20);  // random, not repeated
}

}  // namespace
}  // namespace contacts

namespace contacts {
namespace {

TEST_CASE("a header whose alg is not a string is refused, not thrown on") {
  const std::string payload = R"({"sub":"42","exp":9999999999})";
  for (const char* header : {R"({"alg":1})", R"({"alg":null})", R"({"alg":["HS256"]})",
                             R"({"alg":{"a":1}})", R"({"alg":true})", R"([])", R"("HS256")"}) {
    INFO(header);
    auto user = verify_jwt(signed_token(header, payload, kSecret), kSecret, kNow);
    REQUIRE_FALSE(user.ok());
    CHECK(user.status().code() == Code::kUnauthorized);
  }
  // The probe's token: {"alg":1}.{}.AAAA
  CHECK_FALSE(verify_jwt("eyJhbGciOjF9.e30.AAAA", kSecret, kNow).ok());
}

TEST_CASE("a token has one spelling: padding, junk after it, the standard alphabet are refused") {
  std::string token = mint_jwt(kSecret, 42, kNow + 60);
  REQUIRE(verify_jwt(token, kSecret, kNow).ok());
  auto last_dot = token.rfind('.');
  std::string signature = token.substr(last_dot + 1);
  std::string raw;
  REQUIRE(base64_decode(signature, raw));
  std::string standard = base64_encode(raw, false, true);
  REQUIRE(standard != signature);  // 32 bytes: a pad and, often, + or /
  for (const std::string& variant :
       {token + "=", token + "=junk", token.substr(0, last_dot + 1) + standard,
        token.substr(0, last_dot + 1) + signature + "AA"}) {
    INFO(variant);
    CHECK_FALSE(verify_jwt(variant, kSecret, kNow).ok());
  }
  // The last character of a 32-byte signature carries 2 unused bits: setting one is refused.
  std::string flipped = token;
  char& last = flipped.back();
  std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  last = alphabet[alphabet.find(last) ^ 1];
  CHECK_FALSE(verify_jwt(flipped, kSecret, kNow).ok());
}

TEST_CASE("bearer_token takes the scheme in any case, and nothing else") {
  CHECK(bearer_token("Bearer abc") == std::optional<std::string_view>("abc"));
  CHECK(bearer_token("bearer abc") == std::optional<std::string_view>("abc"));
  CHECK(bearer_token("BEARER  abc") == std::optional<std::string_view>("abc"));
  CHECK_FALSE(bearer_token("Basic abc").has_value());
  CHECK_FALSE(bearer_token("Bearerabc").has_value());
  CHECK_FALSE(bearer_token("Bearer ").has_value());
  CHECK_FALSE(bearer_token("Bearer").has_value());
}

}  // namespace
}  // namespace contacts
