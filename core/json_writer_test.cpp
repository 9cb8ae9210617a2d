#include "core/json_writer.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <random>

namespace contacts {

TEST_CASE("JsonWriter escapes strings exactly as nlohmann's dump does") {
  std::mt19937 rng(7);
  const std::vector<std::string> fixed = {
      "",    "plain", "quote\"back\\slash", "tab\tnew\nline\r", "\x01\x1f\x7f", "Élodie Søren 東京",
      "\b\f"};
  std::vector<std::string> samples = fixed;
  for (int i = 0; i < 500; ++i) {
    std::string s;
    for (int k = 0; k < 12; ++k) s.push_back(static_cast<char>(rng() % 0x80));
    samples.push_back(s);
  }
  // Mostly plain text (UTF-8 included) with an escape here and there, at any offset of the
  // eight-byte chunks the writer tests at once, and at their edges.
  const std::string specials = "\"\\\n\x01\x1f\x7f ";
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    const size_t length = rng() % 41;
    while (s.size() < length) {
      const unsigned pick = rng() % 24;
      if (pick == 0)
        s.push_back(specials[rng() % specials.size()]);
      else if (pick == 1)
        s += "\xC3\xA9";
      else
        s.push_back(static_cast<char>(0x20 + rng() % 0x5f));
    }
    samples.push_back(s);
  }
  for (const auto& s : samples) {
    JsonWriter w;
    w.value(std::string_view(s));
    CHECK(w.take() == nlohmann::json(s).dump());
  }
}

TEST_CASE("JsonWriter writes integers in full") {
  JsonWriter w;
  w.begin_array().value(int64_t{0}).value(int64_t{-42}).value(INT64_MIN).value(INT64_MAX);
  CHECK(w.end_array().take() == "[0,-42,-9223372036854775808,9223372036854775807]");
}

TEST_CASE("JsonWriter writes objects, arrays, nulls and commas where they belong") {
  JsonWriter w;
  w.begin_object().key("a").value(int64_t{1}).key("b").begin_array();
  w.value(std::optional<int64_t>{}).value(std::optional<std::string>{"x"}).boolean(true);
  w.end_array().key("c").begin_object().end_object().end_object();
  CHECK(w.take() == R"({"a":1,"b":[null,"x",true],"c":{}})");
}

}  // namespace contacts
