// Text helpers: UTF-8 validation, trimming, Unicode case, murmur2, base64, JSON depth.
#include "core/text.h"

#include <doctest/doctest.h>
#include <utf8proc.h>

#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace contacts {
namespace {

TEST_CASE("valid_utf8 accepts well-formed text of every sequence length") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ascii"));
  CHECK(valid_utf8("\xC3\xA9"));              // é
  CHECK(valid_utf8("\xE2\x82\xAC"));          // €
  CHECK(valid_utf8("\xF0\x9F\x98\x80"));      // 😀
  CHECK(valid_utf8("\xF4\x8F\xBF\xBF"));      // U+10FFFF
  CHECK(valid_utf8("\xED\x9F\xBF"));          // U+D7FF, just below the surrogates
  CHECK(valid_utf8(std::string("a\0b", 3)));  // NUL is a code point
}

TEST_CASE("valid_utf8 refuses overlong encodings") {
  CHECK_FALSE(valid_utf8("\xC0\x80"));
  CHECK_FALSE(valid_utf8("\xC1\xBF"));
  CHECK_FALSE(valid_utf8("\xE0\x80\x80"));
  CHECK_FALSE(valid_utf8("\xE0\x9F\xBF"));
  CHECK_FALSE(valid_utf8("\xF0\x80\x80\x80"));
  CHECK_FALSE(valid_utf8("\xF0\x8F\xBF\xBF"));
}

TEST_CASE("valid_utf8 refuses surrogates and code points above U+10FFFF") {
  CHECK_FALSE(valid_utf8("\xED\xA0\x80"));      // U+D800
  CHECK_FALSE(valid_utf8("\xED\xBF\xBF"));      // U+DFFF
  CHECK_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // U+110000
  CHECK_FALSE(valid_utf8("\xF5\x80\x80\x80"));
  CHECK_FALSE(valid_utf8("\xF8\x88\x80\x80\x80"));
  CHECK_FALSE(valid_utf8("\xFF"));
}

TEST_CASE("valid_utf8 refuses truncated sequences and stray continuation bytes") {
  CHECK_FALSE(valid_utf8("\xC3"));
  CHECK_FALSE(valid_utf8("\xE2\x82"));
  CHECK_FALSE(valid_utf8("a\xF0\x9F\x98"));
  CHECK_FALSE(valid_utf8("\x80"));
  CHECK_FALSE(
      valid_utf8("a\xBF"
                 "b"));
  CHECK_FALSE(valid_utf8("\xC3("));  // a lead byte followed by ASCII
  CHECK_FALSE(valid_utf8("\xE2\x28\xA1"));
}

TEST_CASE("utf8_length counts code points, not bytes") {
  CHECK(utf8_length("") == 0);
  CHECK(utf8_length("abc") == 3);
  CHECK(utf8_length("\xC3\xA9l\xC3\xA9") == 3);
  CHECK(utf8_length("\xF0\x9F\x98\x80") == 1);
}

TEST_CASE("trim drops ASCII white space at both ends only") {
  CHECK(trim("") == "");
  CHECK(trim("   ") == "");
  CHECK(trim(" a ") == "a");
  CHECK(trim("\t\n\v\f\r a b \r\n") == "a b");
  CHECK(trim("a  b") == "a  b");
  CHECK(trim("\xC3\xA9") == "\xC3\xA9");
}

TEST_CASE("trim drops Unicode white space such as U+00A0 and U+3000") {
  CHECK(trim("\u00a0Alice\u3000") == "Alice");
  CHECK(trim("Chlo\u00e9\u00a0\u3000 ") == "Chlo\u00e9");
  // Bytes that are not UTF-8 are not white space; white space after them still goes.
  CHECK(trim("a\xE3\x80\u00a0") == "a\xE3\x80");
  CHECK(trim("a\x80\x80\x80\x80 ") == "a\x80\x80\x80\x80");
  CHECK(trim("\xA0") == "\xA0");
  CHECK(trim("x\u3000\x80") == "x\u3000\x80");  // a stray byte ends nothing before it
  CHECK(trim("\u2003\u2028x\u2029\u202f") == "x");
  CHECK(trim("\u0085x\ufeff") == "x");
  CHECK(trim("\u3000\u00a0 ") == "");
  CHECK(trim("x\u00a0y") == "x\u00a0y");  // inner spaces stay
  CHECK(trim("\u200bx") == "\u200bx");    // zero-width space is a format character, not a space
}

TEST_CASE("unicode_lower lowers every code point") {
  CHECK(unicode_lower("\xC3\x89LODIE") == "\xC3\xA9lodie");  // ÉLODIE -> élodie
  CHECK(unicode_lower("Alice@Example.COM") == "alice@example.com");
  CHECK(unicode_lower("\u0391\u0392\u0393") == "\u03b1\u03b2\u03b3");  // ΑΒΓ
  CHECK(unicode_lower("\xC3\x9F") == "\xC3\x9F");  // ß has no single lower case
  CHECK(unicode_lower("123 -_.") == "123 -_.");
}

namespace {

// utf8proc's full case folding, composed: what casefold gives for any text.
std::string utf8proc_casefold(std::string_view s) {
  utf8proc_uint8_t* folded = nullptr;
  auto len = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
      &folded,
      static_cast<utf8proc_option_t>(UTF8PROC_CASEFOLD | UTF8PROC_COMPOSE | UTF8PROC_STABLE));
  REQUIRE(len >= 0);
  std::string out(reinterpret_cast<char*>(folded), static_cast<size_t>(len));
  free(folded);
  return out;
}

std::string utf8_of(int32_t cp) {
  utf8proc_uint8_t buf[4];
  auto n = utf8proc_encode_char(cp, buf);
  return std::string(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
}

}  // namespace

TEST_CASE("casefold of ASCII and Latin-1 text (folded without utf8proc) is utf8proc's") {
  for (int32_t cp = 1; cp < 0x100; ++cp) {
    std::string alone = utf8_of(cp), within = "Ab" + utf8_of(cp) + "Z\xC3\x89";
    INFO(cp);
    CHECK(casefold(alone) == utf8proc_casefold(alone));
    CHECK(casefold(within) == utf8proc_casefold(within));
  }
  // Random text mostly of Latin-1, sometimes with a code point past it (a combining accent
  // composes with the letter before it; Latin Extended and Greek fold by their own rules).
  const int32_t beyond[] = {0x100, 0x130, 0x178, 0x17F, 0x301, 0x308, 0x3A3, 0x1E9E, 0x212A};
  std::mt19937_64 rng(7);
  for (int round = 0; round < 5000; ++round) {
    std::string text;
    for (size_t n = 1 + rng() % 10; n > 0; --n)
      text += rng() % 12 == 0 ? utf8_of(beyond[rng() % std::size(beyond)])
                              : utf8_of(static_cast<int32_t>(0x20 + rng() % 0xE0));
    INFO(text);
    CHECK(casefold(text) == utf8proc_casefold(text));
  }
}

TEST_CASE("casefold makes case-insensitive matches of Unicode text") {
  CHECK(casefold("Stra\xC3\x9F"
                 "e")
            .find("strasse") != std::string::npos);
  CHECK(casefold("STRASSE") == casefold("stra\xC3\x9F"
                                        "e"));
  CHECK(casefold("\xC3\x89LODIE") == casefold("\xC3\xA9lodie"));
  CHECK(casefold("Alice") == "alice");
}

int32_t signed_murmur2(std::string_view s) { return static_cast<int32_t>(murmur2(s)); }

TEST_CASE("murmur2 matches Kafka's Utils.murmur2 test vectors") {
  // org.apache.kafka.common.utils.UtilsTest.testMurmur2
  CHECK(signed_murmur2("21") == -973932308);
  CHECK(signed_murmur2("foobar") == -790332482);
  CHECK(signed_murmur2("a-little-bit-long-string") == -985981536);
  CHECK(signed_murmur2("a-little-bit-longer-string") == -1486304829);
  CHECK(signed_murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971);
  CHECK(signed_murmur2("abc") == 479470107);
  // Every tail length (0-3 leftover bytes), as checked against Kafka by Akka's Murmur2Spec.
  CHECK(signed_murmur2("1") == -1993445489);
  CHECK(signed_murmur2("12") == 126087238);
  CHECK(signed_murmur2("123") == -267702483);
  CHECK(signed_murmur2("1234") == -1614185708);
  CHECK(signed_murmur2("12345") == -1188365604);
}

TEST_CASE("murmur2 treats bytes as unsigned and spreads workspace keys over partitions") {
  CHECK(murmur2("\xFF\xFE\x80") != murmur2("\x7F\x7E\x00"));
  std::vector<int> buckets(12, 0);
  for (int ws = 1; ws <= 12000; ++ws) ++buckets[(murmur2(std::to_string(ws)) & 0x7FFFFFFF) % 12];
  for (int count : buckets) {
    CHECK(count > 800);
    CHECK(count < 1200);
  }
}

TEST_CASE("base64 matches RFC 4648 vectors, padded and unpadded") {
  const std::vector<std::pair<std::string, std::string>> vectors = {{"", ""},
                                                                    {"f", "Zg=="},
                                                                    {"fo", "Zm8="},
                                                                    {"foo", "Zm9v"},
                                                                    {"foob", "Zm9vYg=="},
                                                                    {"fooba", "Zm9vYmE="},
                                                                    {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(base64_encode(plain, false, true) == encoded);
    std::string unpadded = encoded.substr(0, encoded.find('='));
    CHECK(base64_encode(plain, true, false) == unpadded);
    std::string out;
    REQUIRE(base64_decode(encoded, out));
    CHECK(out == plain);
    REQUIRE(base64_decode(unpadded, out));
    CHECK(out == plain);
  }
}

TEST_CASE(
    "base64 url and std alphabets differ only in the last two characters and both round trip") {
  const std::string bytes("\xFB\xFF\xBF", 3);
  CHECK(base64_encode(bytes, false, true) == "+/+/");
  CHECK(base64_encode(bytes, true, false) == "-_-_");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t length = 0; length <= all.size(); length += 37) {
    std::string input = all.substr(all.size() - length);
    for (bool url : {false, true}) {
      for (bool pad : {false, true}) {
        std::string encoded = base64_encode(input, url, pad), decoded;
        CHECK(encoded.find(url ? '+' : '-') == std::string::npos);
        REQUIRE(base64_decode(encoded, decoded));
        CHECK(decoded == input);
      }
    }
  }
}

TEST_CASE("base64_decode refuses characters outside both alphabets") {
  std::string out;
  CHECK_FALSE(base64_decode("Zm9v*", out));
  CHECK_FALSE(base64_decode("Zm 9v", out));
  CHECK_FALSE(base64_decode("Zm9v.", out));
}

TEST_CASE("base64url_decode_canonical takes only the spelling base64_encode gives") {
  std::string out;
  for (std::string plain : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xFB\xFF\xBF"}) {
    std::string encoded = base64_encode(plain, true, false);
    REQUIRE(base64url_decode_canonical(encoded, out));
    CHECK(out == plain);
    CHECK_FALSE(base64url_decode_canonical(encoded + "=", out));
    CHECK_FALSE(base64url_decode_canonical(encoded + "=junk", out));
    CHECK_FALSE(base64url_decode_canonical(base64_encode(plain, true, true) + "x", out));
  }
  CHECK_FALSE(base64url_decode_canonical("Zm8=", out));      // padded
  CHECK_FALSE(base64url_decode_canonical("-_-_+/", out));    // the standard alphabet
  CHECK_FALSE(base64url_decode_canonical("Zm9vY", out));     // a lone last character
  CHECK(base64url_decode_canonical("Zg", out));              // "f"
  CHECK_FALSE(base64url_decode_canonical("Zh", out));        // "f" with an unused bit set
  CHECK(base64url_decode_canonical("Zm8", out));             // "fo"
  CHECK_FALSE(base64url_decode_canonical("Zm9", out));       // "fo" with unused bits set
}

TEST_CASE("hex_encode writes two lower-case digits per byte") {
  CHECK(hex_encode(std::string("\x00\x0F\xA0\xFF", 4)) == "000fa0ff");
  CHECK(hex_encode("") == "");
}

TEST_CASE("json_depth_within counts array and object nesting, skipping strings") {
  CHECK(json_depth_within("1", 0));
  CHECK(json_depth_within("{}", 1));
  CHECK_FALSE(json_depth_within("{}", 0));
  CHECK(json_depth_within("[[]]", 2));
  CHECK_FALSE(json_depth_within("[[]]", 1));
  CHECK(json_depth_within(R"({"a":[1,{"b":2}],"c":[]})", 3));
  CHECK_FALSE(json_depth_within(R"({"a":[1,{"b":2}],"c":[]})", 2));
  CHECK(json_depth_within(R"({"a":"[[[[{{{{"})", 1));
  CHECK(json_depth_within(R"({"a":"\"[[[["})", 1));  // an escaped quote does not end the string
  CHECK(json_depth_within(R"({"a":"\\"})", 1));      // an escaped backslash does
  CHECK_FALSE(json_depth_within(R"({"a":"\\","b":[[]]})", 2));
  std::string deep = std::string(64, '[') + std::string(64, ']');
  CHECK(json_depth_within(deep, 64));
  CHECK_FALSE(json_depth_within("[" + deep + "]", 64));
  CHECK_FALSE(json_depth_within(std::string(100000, '['), 64));  // unbalanced hostile input
}

}  // namespace
}  // namespace contacts

TEST_CASE("near_miss tells a typo of a known field name from a new name") {
  // Case and separators.
  CHECK(contacts::near_miss("displayName", "display_name"));
  CHECK(contacts::near_miss("display-name", "display_name"));
  CHECK(contacts::near_miss("Command_ID", "command_id"));
  // One or two edits from a longer name, one from a short one.
  CHECK(contacts::near_miss("ocurred_at", "occurred_at"));
  CHECK(contacts::near_miss("occurred", "occurred_at") == false);  // three edits
  CHECK(contacts::near_miss("emial", "email"));                    // a swap of neighbours
  CHECK(contacts::near_miss("metdata", "metadata"));
  CHECK(contacts::near_miss("partcipnt", "participant"));
  CHECK(contacts::near_miss("ids", "id"));
  CHECK_FALSE(contacts::near_miss("slug", "name"));
  CHECK_FALSE(contacts::near_miss("role", "room"));  // two edits from a 4-character name
  CHECK_FALSE(contacts::near_miss("source", "room"));
  CHECK_FALSE(contacts::near_miss("avatar_url", "name"));
  // A name is not a near miss of itself.
  CHECK_FALSE(contacts::near_miss("email", "email"));
}
