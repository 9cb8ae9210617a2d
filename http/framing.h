// Strict HTTP/1.1 request framing (RFC 9112), judged from a request's head before its body is
// read: the rules Beast's parser leaves to the server, each a request-smuggling lever behind a
// proxy that frames differently.
#pragma once

#include <boost/beast/http.hpp>
#include <optional>
#include <string>

namespace contacts {

struct FramingError {
  unsigned status;  // 400, or 501 for a transfer coding this server does not implement
  std::string message;
};

// Nothing when the head frames its request unambiguously; otherwise the answer to send before
// closing the connection:
// - Transfer-Encoding only in HTTP/1.1, never beside Content-Length, and exactly `chunked`
//   (a final coding other than chunked: 400, section 6.3; another coding before it: 501);
// - exactly one Host field in HTTP/1.1 (section 3.2).
// (Beast itself refuses a bare LF, a NUL or a space before a field's colon, differing
// Content-Lengths and malformed chunks, and replaces an obsolete line folding with spaces.)
std::optional<FramingError> check_framing(const boost::beast::http::request_header<>& header);

}  // namespace contacts
