#include "http/openapi.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

namespace contacts {

TEST_CASE("The embedded OpenAPI document is schemas/openapi.yaml, served as application/yaml") {
  std::ifstream file(std::string(CONTACTS_SCHEMA_DIR) + "/openapi.yaml", std::ios::binary);
  REQUIRE(file);
  std::stringstream text;
  text << file.rdbuf();
  CHECK(openapi_document() == text.str());
  HttpResponse res = openapi_response();
  CHECK(res.result_int() == 200);
  CHECK(res[http::field::content_type] == "application/yaml");
  CHECK(res.body() == text.str());
  CHECK(res[http::field::content_length] == std::to_string(text.str().size()));
}

}  // namespace contacts
