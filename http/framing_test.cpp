// check_framing: the RFC 9112 rules a request's head must meet before its body is read, and the
// connection budget each listener gets from the open-file limit.
#include "http/framing.h"

#include <doctest/doctest.h>

#include <string>

#include "http/server.h"

namespace contacts {
namespace {

// The head of `text` as Beast's parser reads it (the body is not read).
http::request_header<> head(const std::string& text) {
  http::request_parser<http::empty_body> parser;
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(text), ec);
  REQUIRE_MESSAGE(!ec, ec.message());
  REQUIRE(parser.is_header_done());
  return parser.release().base();
}

std::optional<unsigned> refusal(const std::string& fields, const char* version = "HTTP/1.1") {
  auto error =
      check_framing(head(std::string("POST /v1/commands ") + version + "\r\n" + fields + "\r\n"));
  if (!error) return std::nullopt;
  return error->status;
}

TEST_CASE("framing: plain requests, a Content-Length or chunked alone, pass") {
  CHECK_FALSE(refusal("Host: x\r\n"));
  CHECK_FALSE(refusal("Host: x\r\nContent-Length: 3\r\n"));
  CHECK_FALSE(refusal("Host: x\r\nTransfer-Encoding: chunked\r\n"));
  CHECK_FALSE(refusal("Host: x\r\nTransfer-Encoding: Chunked \r\n"));
  CHECK_FALSE(refusal("Content-Length: 3\r\n", "HTTP/1.0"));  // HTTP/1.0 needs no Host
}

TEST_CASE("framing: a final transfer coding other than chunked is a 400 (section 6.3)") {
  CHECK(refusal("Host: x\r\nTransfer-Encoding: gzip\r\n") == 400u);
  CHECK(refusal("Host: x\r\nTransfer-Encoding: chunked, gzip\r\n") == 400u);
  CHECK(refusal("Host: x\r\nTransfer-Encoding: chunked, chunked\r\n") == 400u);
  CHECK(refusal("Host: x\r\nTransfer-Encoding: ,\r\n") == 400u);
}

TEST_CASE("framing: another coding before chunked is not implemented (501)") {
  CHECK(refusal("Host: x\r\nTransfer-Encoding: gzip, chunked\r\n") == 501u);
  CHECK(refusal("Host: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n") == 501u);
}

TEST_CASE("framing: Transfer-Encoding beside Content-Length, or in HTTP/1.0, is a 400") {
  CHECK(refusal("Host: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n") == 400u);
  CHECK(refusal("Transfer-Encoding: chunked\r\n", "HTTP/1.0") == 400u);
}

TEST_CASE("framing: an HTTP/1.1 request carries exactly one Host (section 3.2)") {
  CHECK(refusal("") == 400u);
  CHECK(refusal("Host: a\r\nHost: b\r\n") == 400u);
}

TEST_CASE("declares_body: a length above zero or a transfer coding") {
  CHECK_FALSE(declares_body(head("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
  CHECK_FALSE(declares_body(head("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")));
  CHECK(declares_body(head("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n")));
  CHECK(declares_body(head("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")));
}

TEST_CASE("connection_budget: a reserve for the stores, three quarters of the rest to the API") {
  ConnectionBudget small = connection_budget(1024);
  CHECK(small.api == 576);
  CHECK(small.ingest == 192);
  CHECK(small.api + small.ingest <= 1024 - 256);
  ConnectionBudget usual = connection_budget(65536);
  CHECK(usual.api == 16384);  // the caps
  CHECK(usual.ingest == 4096);
  CHECK(connection_budget(8).api >= 1);
  CHECK(connection_budget(8).ingest >= 1);
}

}  // namespace
}  // namespace contacts
