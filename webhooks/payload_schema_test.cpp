// The delivery body that webhooks/signing.cpp writes is what schemas/webhook_event.json states.
#define VALIJSON_USE_EXCEPTIONS 1

#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "webhooks/signing.h"

namespace contacts {
namespace {

bool schema_accepts(const std::string& text) {
  std::ifstream in(std::string(CONTACTS_SCHEMA_DIR) + "/webhook_event.json");
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

TEST_CASE("delivery bodies validate against schemas/webhook_event.json") {
  std::string ts = iso8601_millis(1711586400);
  CHECK(schema_accepts(delivery_body("contact.deleted", ts, 1, "Alice Martin", std::string("alice@example.com"))));
  CHECK(schema_accepts(delivery_body("contact.created", ts, 9007199254740991, "Zoë", std::nullopt)));
  CHECK(schema_accepts(delivery_body("contact.updated", iso8601_millis(0), 5, std::string(200, 'n'), std::nullopt)));
  // The schema is not a rubber stamp.
  CHECK_FALSE(schema_accepts(delivery_body("contact.merged", ts, 1, "A", std::nullopt)));
  CHECK_FALSE(schema_accepts(delivery_body("contact.created", "2024-03-28", 1, "A", std::nullopt)));
  CHECK_FALSE(schema_accepts(delivery_body("contact.created", ts, 0, "A", std::nullopt)));
  CHECK_FALSE(schema_accepts(R"({"event":"contact.created","timestamp":"2024-03-28T00:40:00.000Z","data":{"id":1,"name":"A"}})"));
}

}  // namespace
}  // namespace contacts
