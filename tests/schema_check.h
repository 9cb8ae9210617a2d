// schema_accepts: whether a JSON text validates against one of schemas/*.json (draft 7, with
// valijson). For unit tests.
#pragma once

#define VALIJSON_USE_EXCEPTIONS 1

#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

namespace contacts {

inline bool schema_accepts(const std::string& schema_file, const std::string& text) {
  std::ifstream in(std::string(CONTACTS_SCHEMA_DIR) + "/" + schema_file);
  REQUIRE(in.good());
  std::stringstream schema_text;
  schema_text << in.rdbuf();
  nlohmann::json schema_document = nlohmann::json::parse(schema_text.str());
  valijson::Schema schema;
  valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
  valijson::adapters::NlohmannJsonAdapter schema_adapter(schema_document);
  parser.populateSchema(schema_adapter, schema);
  nlohmann::json document = nlohmann::json::parse(text, nullptr, false);
  if (document.is_discarded()) return false;
  valijson::Validator validator;
  valijson::adapters::NlohmannJsonAdapter adapter(document);
  return validator.validate(schema, adapter, nullptr);
}

}  // namespace contacts
