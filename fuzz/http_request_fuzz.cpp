// libFuzzer target: the bytes of one connection, read as the server's sessions read them
// (http/server.cpp): Beast's request parser with the server's header limit, the framing rules of
// http/framing.h judged from the head before the body is read, then the API's request-line
// parsing (api/router.h) of each complete request, pipelined requests included.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/router.h"
#include "core/types.h"
#include "fuzz/fuzz_check.h"
#include "http/framing.h"
#include "http/server.h"

namespace {

namespace http = boost::beast::http;

// Small enough that the fuzzer reaches it; the server's own limit (1 MiB for the API, 32 MiB
// for ingest) takes the same path in Beast.
constexpr uint64_t kFuzzBodyLimit = 64 * 1024;
// Keep-alive requests read from one input; more only repeat the same paths.
constexpr int kMaxPipelined = 8;

// What the API does with a complete request's target.
void route(std::string_view target) {
  contacts::Target parsed = contacts::parse_target(target);
  contacts::Paging paging = contacts::parse_paging(parsed.query);
  // The promises of router.h, which the handlers rely on without checking again.
  FUZZ_CHECK(paging.page >= 1 && paging.page <= contacts::kMaxPage);
  FUZZ_CHECK(paging.limit >= 1 && paging.limit <= contacts::kMaxPageLimit);
  for (const auto& segment : parsed.segments) {
    auto id = contacts::parse_id(segment);
    FUZZ_CHECK(!id || (*id >= 1 && *id <= contacts::kMaxSafeInteger));
  }
}

// Reads one request from the front of `input` and drops the bytes it used. False when the
// connection would be closed after it (an error, a refused head, or no keep-alive).
bool read_request(std::string_view& input) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(contacts::kHeaderLimit);
  parser.body_limit(kFuzzBodyLimit);
  boost::beast::error_code ec;
  // Not eager yet: the first put stops at the end of the head, as async_read_header does.
  size_t used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
  input.remove_prefix(used);
  if (ec || !parser.is_header_done()) return false;
  if (contacts::check_framing(parser.get().base())) return false;  // answered, then closed
  parser.eager(true);
  while (!parser.is_done()) {
    if (input.empty()) {
      parser.put_eof(ec);  // the peer closed mid-body
      return false;
    }
    used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
    input.remove_prefix(used);
    if (ec || used == 0) return false;
  }
  const auto& request = parser.get();
  route(request.target());
  return request.keep_alive();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (int i = 0; i < kMaxPipelined && !input.empty(); ++i)
    if (!read_request(input)) break;
  return 0;
}
