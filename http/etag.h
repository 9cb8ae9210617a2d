// Conditional GETs (RFC 9110 sections 8.8.3 and 13.1.2): a strong entity tag computed from a
// response's bytes, and the If-None-Match precondition that turns an unchanged 200 into a 304.
// Pure functions, thread-safe. Which responses carry a tag is the caller's choice (api/).
#pragma once

#include <string>
#include <string_view>

#include "http/server.h"

namespace contacts {

// The strong entity tag of `body`: a double quote, the 16 lower-case hex digits of its XXH3-64
// hash, a double quote. Equal bytes give equal tags, so a tag changes exactly when the bytes do
// (but for a 64-bit collision).
std::string entity_tag(std::string_view body);

// Whether an If-None-Match field value matches `tag` (one entity tag): `*`, or a comma-separated
// list holding a tag equal to it by the weak comparison (`W/"x"` matches `"x"`). A malformed
// value (a tag without its quotes, `*` inside a list, text after a tag) matches nothing: the
// field is ignored, never an error.
bool none_match(std::string_view field, std::string_view tag);

// Makes a 200 answer to a GET conditional on `request`: it gets its ETag, and when the request's
// If-None-Match (all its fields) matches, it becomes a 304 Not Modified without a body that keeps
// what RFC 9110 section 15.4.5 asks of it (ETag, Cache-Control, Vary, Content-Location, Date,
// Expires) and no Content-Length. Any other status is left as it is, without a tag. A 200 that
// has an ETag already keeps it: the caller computed it with entity_tag from these bytes.
HttpResponse conditional(const http::request_header<>& request, HttpResponse response);

}  // namespace contacts
