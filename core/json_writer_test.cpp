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
  for (const auto& s : samples) {
    JsonWriter w;
    w.value(std::string_view(s));
    CHECK(w.take() == nlohmann::json(s).dump());
  }
}

TEST_CASE("JsonWriter writes objects, arrays, nulls and commas where they belong") {
  JsonWriter w;
  w.begin_object().key("a").value(int64_t{1}).key("b").begin_array();
  w.value(std::optional<int64_t>{}).value(std::optional<std::string>{"x"}).boolean(true);
  w.end_array().key("c").begin_object().end_object().end_object();
  CHECK(w.take() == R"({"a":1,"b":[null,"x",true],"c":{}})");
}

}  // namespace contacts
