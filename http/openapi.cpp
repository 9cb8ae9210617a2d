#include "http/openapi.h"

namespace contacts {

// Defined in the source CMake generates from schemas/openapi.yaml.
extern const unsigned char kOpenApiYaml[];
extern const size_t kOpenApiYamlSize;

std::string_view openapi_document() {
  return {reinterpret_cast<const char*>(kOpenApiYaml), kOpenApiYamlSize};
}

HttpResponse openapi_response() {
  HttpResponse res{http::status::ok, 11};
  res.set(http::field::content_type, "application/yaml");
  res.body() = std::string(openapi_document());
  res.prepare_payload();
  return res;
}

}  // namespace contacts
