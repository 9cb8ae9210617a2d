// The OpenAPI 3.1 document of the API and ingest listeners (schemas/openapi.yaml), embedded into
// the binary at build time (schemas/embed.cmake): served as built, no file is read at run time.
#pragma once

#include <string_view>

#include "http/server.h"

namespace contacts {

// The bytes of schemas/openapi.yaml as it was when the binary was built.
std::string_view openapi_document();
// 200 with the document, Content-Type application/yaml (GET /openapi.yaml on both listeners).
HttpResponse openapi_response();

}  // namespace contacts
