// Strict HTTP/1.1 request framing (RFC 9112), judged from a request's head before its body is
// read. Beast's parser already refuses malformed start lines, fields, lengths and chunks; these
// are the rules it leaves to the server, each a request-smuggling lever behind a proxy that
// frames differently.
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
// - exactly one Host field in HTTP/1.1 (section 3.2);
// - no field value with a CR, LF or NUL (an obsolete line folding is refused, section 5.2).
std::optional<FramingError> check_framing(const boost::beast::http::request_header<>& header);

}  // namespace contacts
