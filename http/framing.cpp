#include "http/framing.h"

#include <string_view>

#include "core/text.h"

namespace contacts {

namespace http = boost::beast::http;

namespace {

// The transfer codings of every Transfer-Encoding field, in order (parameters included).
std::optional<FramingError> check_transfer_codings(const http::request_header<>& header) {
  if (header.version() < 11)
    return FramingError{400, "Transfer-Encoding is not allowed in an HTTP/1.0 request"};
  if (header.count(http::field::content_length) > 0)
    return FramingError{400, "A request must not carry both Transfer-Encoding and Content-Length"};
  size_t codings = 0;
  bool chunked_last = false;
  auto fields = header.equal_range(http::field::transfer_encoding);
  for (auto it = fields.first; it != fields.second; ++it) {
    std::string_view list = it->value();
    while (true) {
      auto comma = list.find(',');
      std::string_view coding = trim(list.substr(0, comma));
      if (!coding.empty()) {
        if (chunked_last)
          return FramingError{400, "chunked must be the final transfer coding, applied once"};
        ++codings;
        chunked_last = boost::beast::iequals(coding, "chunked");
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  if (!chunked_last)
    return FramingError{400, "The final transfer coding of a request must be chunked"};
  if (codings > 1)
    return FramingError{501, "Transfer codings other than chunked are not implemented"};
  return std::nullopt;
}

}  // namespace

std::optional<FramingError> check_framing(const http::request_header<>& header) {
  if (header.count(http::field::transfer_encoding) > 0)
    if (auto error = check_transfer_codings(header)) return error;
  if (header.version() >= 11 && header.count(http::field::host) != 1)
    return FramingError{400, "An HTTP/1.1 request must carry exactly one Host field"};
  return std::nullopt;
}

}  // namespace contacts
