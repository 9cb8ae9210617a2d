#include "webhooks/asio_http_sender.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <memory>

namespace contacts {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

template <typename Stream>
asio::awaitable<void> exchange(Stream& stream, http::request<http::string_body>& request,
                               HttpOutcome& sent) {
  co_await http::async_write(stream, request, asio::use_awaitable);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kResponseBodyLimit);
  boost::system::error_code ec;
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  // A receiver that answers with a huge body has still answered: its status counts.
  if (ec && !(ec == http::error::body_limit && parser.is_header_done()))
    throw boost::system::system_error(ec);
  sent.status = static_cast<int>(parser.get().result_int());
}

// One POST with a deadline over all of it: resolve, connect, TLS, write, read.
asio::awaitable<HttpOutcome> post_once(ssl::context& tls, Url url,
                                       http::request<http::string_body> request, bool allow_private,
                                       std::chrono::steady_clock::time_point deadline) {
  HttpOutcome sent;
  auto executor = co_await asio::this_coro::executor;
  try {
    // Shared with the guard's handler, which may run after this frame is gone.
    auto resolver = std::make_shared<tcp::resolver>(executor);
    asio::steady_timer guard(executor);
    guard.expires_at(deadline);
    guard.async_wait([resolver](const boost::system::error_code& ec) {
      if (!ec) resolver->cancel();
    });
    auto results =
        co_await resolver->async_resolve(url.host, std::to_string(url.port), asio::use_awaitable);
    guard.cancel();
    std::vector<tcp::endpoint> endpoints;
    for (const auto& entry : results) {
      // Checked again at each attempt: a name may resolve elsewhere than when it was created.
      if (!allow_private && is_private_address(entry.endpoint().address())) {
        sent.error = "destination resolves to a private address";
        co_return sent;
      }
      endpoints.push_back(entry.endpoint());
    }
    beast::tcp_stream stream(executor);
    stream.expires_at(deadline);
    co_await stream.async_connect(endpoints, asio::use_awaitable);
    if (url.https) {
      beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(stream), tls);
      if (!SSL_set_tlsext_host_name(tls_stream.native_handle(), url.host.c_str())) {
        sent.error = "TLS: cannot set the server name";
        co_return sent;
      }
      tls_stream.set_verify_mode(ssl::verify_peer);
      tls_stream.set_verify_callback(ssl::host_name_verification(url.host));
      beast::get_lowest_layer(tls_stream).expires_at(deadline);
      co_await tls_stream.async_handshake(ssl::stream_base::client, asio::use_awaitable);
      co_await exchange(tls_stream, request, sent);
    } else {
      co_await exchange(stream, request, sent);
    }
  } catch (const boost::system::system_error& e) {
    bool timed_out =
        e.code() == beast::error::timeout || e.code() == asio::error::operation_aborted;
    sent.error = timed_out ? "timed out" : e.code().message();
  }
  co_return sent;
}

// The request as Beast writes it: Host first, then the caller's headers in their order.
http::request<http::string_body> beast_request(HttpPost& post) {
  http::request<http::string_body> request{http::verb::post, post.url.target, 11};
  request.set(http::field::host, post.url.host_header());
  for (const auto& header : post.headers) request.set(header.name, header.value);
  request.body() = std::move(post.body);
  request.prepare_payload();
  return request;
}

}  // namespace

AsioHttpSender::AsioHttpSender(bool allow_private)
    : allow_private_(allow_private), tls_(ssl::context::tls_client) {
  tls_.set_default_verify_paths();
}

void AsioHttpSender::post(asio::any_io_executor executor, HttpPost request, Done done) {
  auto message = beast_request(request);
  asio::co_spawn(executor,
                 post_once(tls_, request.url, std::move(message), allow_private_, request.deadline),
                 [done = std::move(done)](std::exception_ptr error, HttpOutcome sent) {
                   if (error) sent = HttpOutcome{0, "the attempt failed unexpectedly"};
                   done(std::move(sent));
                 });
}

}  // namespace contacts
