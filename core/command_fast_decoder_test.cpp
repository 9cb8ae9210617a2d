#include "core/command_fast_decoder.h"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "core/command_codec.h"
#include "core/text.h"

namespace contacts {
namespace {

// The fast path may decline anything, but what it answers must be what the reference answers.
void check_agrees(const std::string& line) {
  if (!valid_utf8(line) || !json_depth_within(line, kMaxJsonDepth)) return;  // its preconditions
  auto fast = decode_visit_fast(line);
  if (!fast) return;
  auto reference = decode_command_reference(line);
  INFO("line: " << line);
  REQUIRE(reference.ok());
  CHECK(encode_command(*fast) == encode_command(*reference));
  CHECK(fast->occurred_at_missing == reference->occurred_at_missing);
}

const std::vector<std::string> kTemplates = {
    R"({"type":"room_join","command_id":"rj-81","workspace_id":2,"occurred_at":1711500000,"participant":{"name":"Alice Martin","email":"alice@example.com"},"room":{"id":5,"name":"team-standup-1234","display_name":"Team Standup"},"metadata":{"device":"web","b":[1,2.5,"x"]}})",
    R"({"type":"booking","command_id":"bk-12","workspace_id":2,"occurred_at":1711000000,"participant":{"name":"  Élodie  ","email":null},"booking_page":{"id":3,"title":"30-min Intro Call","slug":"intro-call"},"metadata":null})",
    R"( { "type" : "room_join" , "command_id":"x","workspace_id":9007199254740991,"participant":{"name":"Bob"},"room":{"id":1,"name":"r"}} )",
    R"({"type":"room_join","command_id":"m","workspace_id":3,"participant":{"name":"Cy"},"room":{"id":2,"name":"r"},"metadata":{"a":[1,-2,true,false,null,{"b":"c"},[]],"device":"web","z":{}}})",
};

std::string with_metadata(const std::string& metadata) {
  return R"({"type":"room_join","command_id":"m","workspace_id":3,"participant":{"name":"Cy"},"room":{"id":2,"name":"r"},"metadata":)" +
         metadata + "}";
}

}  // namespace

TEST_CASE("the fast decoder takes the common room_join and booking lines") {
  for (const auto& line : kTemplates) {
    CHECK(decode_visit_fast(line).has_value());
    check_agrees(line);
  }
}

TEST_CASE(
    "metadata already in its compact form is kept as it is; any other form is re-serialized") {
  // Taken as they are: nlohmann's compact dump of each is the text itself.
  for (std::string m : {R"({"device":"web"})", R"([1,-2,"x"])", R"("text")", "0", "-7", "true",
                        R"({"a":{"b":[{}]},"b":1})", R"({"z":"raw: é","é":"ü"})"}) {
    auto fast = decode_visit_fast(with_metadata(m));
    INFO(m);
    REQUIRE(fast.has_value());
    CHECK(fast->metadata == m);
    check_agrees(with_metadata(m));
  }
  // Not compact: unsorted or repeated keys, whitespace, fractions, exponents, escapes, -0, huge
  // integers. Whatever the fast path answers for them is the reference's serialization.
  const std::vector<std::pair<std::string, std::string>> reserialized = {
      {R"({"b":1,"a":2})", R"({"a":2,"b":1})"},
      {R"({ "a" : [ 1 , 2 ] })", R"({"a":[1,2]})"},
      {R"({"a":1.50})", R"({"a":1.5})"},
      {R"({"a":1e2})", R"({"a":100.0})"},
      {R"({"a":"tab\u0009"})", R"({"a":"tab\t"})"},
      {R"({"a":-0})", R"({"a":0})"},
      {R"({"a":1,"a":2})", R"({"a":2})"},
  };
  for (const auto& [given, served] : reserialized) {
    INFO(given);
    check_agrees(with_metadata(given));
    auto reference = decode_command_reference(with_metadata(given));
    REQUIRE(reference.ok());
    CHECK(reference->metadata == served);
    if (auto fast = decode_visit_fast(with_metadata(given))) CHECK(fast->metadata == served);
  }
}

TEST_CASE("the fast decoder declines what it is not sure of, leaving the error to the reference") {
  const std::vector<std::string> declined = {
      R"({"type":"room_join","command_id":"a\"b","workspace_id":2,"participant":{"name":"A"},"room":{"id":1,"name":"r"}})",
      R"({"type":"room_join","command_id":"a","workspace_id":2,"workspace_id":3,"participant":{"name":"A"},"room":{"id":1,"name":"r"}})",
      R"({"type":"room_join","command_id":"a","workspace_id":2,"participant":{"name":"A","name":"B"},"room":{"id":1,"name":"r"}})",
      R"({"type":"room_join","command_id":"a","workspace_id":2,"participant":{"name":"A","email":null,"email":"e@x"},"room":{"id":1,"name":"r"}})",
      R"({"type":"room_join","command_id":"a","workspace_id":2,"participant":{"name":"A"},"room":{"id":1,"id":2,"name":"r"}})",
      R"({"type":"booking","command_id":"a","workspace_id":2,"participant":{"name":"A"},"booking_page":{"id":1,"title":"t","slug":"s","slug":"u"}})",
      R"({"type":"room_join","command_id":"a","workspace_id":2,"occurred_at":1,"occurred_at":2,"participant":{"name":"A"},"room":{"id":1,"name":"r"}})",
      R"({"type":"room_join","command_id":"a","workspace_id":2,"participant":{"name":"A"},"room":{"id":1,"name":"r"},"metadata":null,"metadata":{"a":1}})",
      R"({"type":"room_join","type":"room_join","command_id":"a","workspace_id":2,"participant":{"name":"A"},"room":{"id":1,"name":"r"}})",
      R"({"type":"room_join","command_id":"a","workspace_id":-2,"participant":{"name":"A"},"room":{"id":1,"name":"r"}})",
      R"({"type":"room_join","command_id":"a","workspace_id":2.0,"participant":{"name":"A"},"room":{"id":1,"name":"r"}})",
      R"({"type":"room_join","command_id":"a","workspace_id":02,"participant":{"name":"A"},"room":{"id":1,"name":"r"}})",
      R"({"type":"room_join","command_id":"a","workspace_id":2,"participant":{"name":"  "},"room":{"id":1,"name":"r"}})",
      R"({"type":"room_join","command_id":"a","workspace_id":2,"participant":{"name":"A"},"booking_page":{"id":1,"title":"t","slug":"s"}})",
      R"({"type":"room_join","command_id":"a","workspace_id":2,"participant":{"name":"A"},"room":{"id":1,"name":"r"},"extra":1})",
      R"({"type":"contact_delete","command_id":"a","workspace_id":2,"contact_id":1})",
      R"({"type":"room_join","command_id":"a","workspace_id":2,"participant":{"name":"A"},"room":{"id":1,"name":"r"}} x)",
      "{\"type\":\"room_join\",\"command_id\":\"a\",\"workspace_id\":2,\"participant\":{\"name\":"
      "\"A\"},"
      "\"room\":{\"id\":1,\"name\":\"r\"},\"metadata\":\xEF\xBB\xBF{\"a\":1}}",
  };
  for (const auto& line : declined) {
    INFO(line);
    CHECK_FALSE(decode_visit_fast(line).has_value());
  }
}

TEST_CASE("whatever the fast decoder accepts of mutated lines, the reference decodes identically") {
  std::mt19937_64 rng(20261128);
  const std::string alphabet = "{}[]\":, 0123456789.-eEnulltrfasx\\\t";
  for (int round = 0; round < 20000; ++round) {
    std::string line = kTemplates[rng() % kTemplates.size()];
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % line.size();
      switch (rng() % 4) {
        case 3:
          line.insert(at, "\xEF\xBB\xBF");
          break;  // a byte-order mark anywhere
        case 0:
          line[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          line.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
        default:
          line.erase(at, 1 + rng() % 4);
          break;
      }
    }
    check_agrees(line);
  }
}

}  // namespace contacts
