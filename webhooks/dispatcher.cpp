#include "webhooks/dispatcher.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <charconv>
#include <iostream>
#include <nlohmann/json.hpp>

#include "webhooks/signing.h"
#include "webhooks/url.h"

namespace contacts {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kOutboxBatch = 1000;
constexpr size_t kDueScan = 10000;
constexpr size_t kResponseBodyLimit = 64 * 1024;
constexpr std::chrono::milliseconds kTick{100};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Sent {
  int status = 0;
  std::string error;
};

template <typename Stream>
asio::awaitable<void> exchange(Stream& stream, http::request<http::string_body>& request, Sent& sent) {
  co_await http::async_write(stream, request, asio::use_awaitable);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kResponseBodyLimit);
  boost::system::error_code ec;
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  // A receiver that answers with a huge body has still answered: its status counts.
  if (ec && !(ec == http::error::body_limit && parser.is_header_done())) throw boost::system::system_error(ec);
  sent.status = static_cast<int>(parser.get().result_int());
}

// One POST with a deadline over all of it: resolve, connect, TLS, write, read.
asio::awaitable<Sent> post(ssl::context& tls, Url url, http::request<http::string_body> request, bool allow_private,
                           std::chrono::steady_clock::time_point deadline) {
  Sent sent;
  auto executor = co_await asio::this_coro::executor;
  try {
    // Shared with the guard's handler, which may run after this frame is gone.
    auto resolver = std::make_shared<tcp::resolver>(executor);
    asio::steady_timer guard(executor);
    guard.expires_at(deadline);
    guard.async_wait([resolver](const boost::system::error_code& ec) {
      if (!ec) resolver->cancel();
    });
    auto results = co_await resolver->async_resolve(url.host, std::to_string(url.port), asio::use_awaitable);
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
    bool timed_out = e.code() == beast::error::timeout || e.code() == asio::error::operation_aborted;
    sent.error = timed_out ? "timed out" : e.code().message();
  }
  co_return sent;
}

}  // namespace

Result<std::vector<int64_t>> parse_retry_schedule(std::string_view text) {
  std::vector<int64_t> out;
  size_t at = 0;
  while (at <= text.size()) {
    size_t comma = text.find(',', at);
    std::string_view item = text.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    int64_t v = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || v < 1 || v > 30 * 86400)
      return Status{Code::kInvalid, "the retry schedule must be seconds between 1 and 2592000, separated by commas"};
    out.push_back(v);
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  return out;
}

Dispatcher::Dispatcher(ViewStore& views, ChangeSource& changes, DeliveryStore& store, DispatcherOptions options)
    : views_(views), changes_(changes), store_(store), options_(std::move(options)), timer_(ioc_), tls_(ssl::context::tls_client) {
  tls_.set_default_verify_paths();
}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  stopping_ = false;
  schedule_tick(std::chrono::milliseconds(0));
  thread_ = std::thread([this] { ioc_.run(); });
}

void Dispatcher::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  thread_.join();
}

void Dispatcher::notify() { notified_ = true; }

void Dispatcher::schedule_tick(std::chrono::milliseconds after) {
  timer_.expires_after(after);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void Dispatcher::tick() {
  if (stopping_) {
    // In-flight attempts finish (each bounded by the timeout) and are recorded; then stop.
    if (in_flight_.empty()) return ioc_.stop();
    return schedule_tick(std::chrono::milliseconds(20));
  }
  notified_ = false;
  try {
    take_changes();
    start_due();
  } catch (const std::exception& e) {
    std::cerr << "contacts: webhooks: " << e.what() << "\n";
  }
  schedule_tick(notified_ ? std::chrono::milliseconds(0) : kTick);
}

void Dispatcher::take_changes() {
  auto entries = changes_.take(kOutboxBatch);
  if (entries.empty()) return;
  std::vector<Delivery> deliveries;
  const int64_t now = now_ms();
  for (const auto& entry : entries) {
    auto j = nlohmann::json::parse(entry.json, nullptr, false);
    try {
      WorkspaceId ws(j.at("workspace_id").get<int64_t>());
      const auto& data = j.at("data");
      std::optional<std::string> email;
      if (data.at("email").is_string()) email = data["email"].get<std::string>();
      Delivery d;
      d.event = j.at("event").get<std::string>();
      d.created_at = j.at("occurred_at").get<int64_t>();
      d.timestamp = iso8601_millis(d.created_at);
      d.body = delivery_body(d.event, d.timestamp, data.at("id").get<int64_t>(), data.at("name").get<std::string>(), email);
      d.next_attempt_ms = now;
      for (const auto& id : j.at("webhooks")) {
        d.ref = DeliveryRef{ws, id.get<int64_t>(), j.at("position").get<int64_t>()};
        // A subscription deleted since the change was queued gets nothing.
        if (views_.webhook_json(ws, d.ref.webhook_id)) deliveries.push_back(d);
      }
    } catch (const nlohmann::json::exception& e) {
      std::cerr << "contacts: webhooks: dropping an unreadable outbox entry: " << e.what() << "\n";
    }
  }
  auto added = store_.add(deliveries);
  if (!added.ok()) {
    std::cerr << "contacts: webhooks: " << added.status().message() << "\n";
    return;  // the changes are not let go of, and are taken next time
  }
  if (auto s = changes_.taken(entries); !s.ok()) std::cerr << "contacts: webhooks: " << s.message() << "\n";
  if (entries.size() == kOutboxBatch) notified_ = true;
}

void Dispatcher::start_due() {
  if (in_flight_.size() >= options_.max_in_flight) return;
  // Rows of subscriptions already at their in-flight bound are stepped over, so one endpoint's
  // backlog never hides the others' due deliveries.
  auto saturated = [this](const DeliveryRef& ref) {
    auto it = in_flight_per_webhook_.find(ref.webhook_id);
    return it != in_flight_per_webhook_.end() && it->second >= options_.per_webhook_in_flight;
  };
  for (const auto& [due_ms, ref] : store_.due(now_ms(), kDueScan, saturated)) {
    if (in_flight_.size() >= options_.max_in_flight) break;
    auto flight = std::make_tuple(ref.workspace_id.value, ref.webhook_id, ref.position);
    if (in_flight_.count(flight) || saturated(ref)) continue;
    auto delivery = store_.get(ref);
    if (!delivery) continue;
    auto row = views_.webhook_json(ref.workspace_id, ref.webhook_id);
    auto webhook = row ? nlohmann::json::parse(*row, nullptr, false) : nlohmann::json();
    if (!webhook.is_object()) {
      delivery->state = DeliveryState::kCancelled;
      delivery->next_attempt_ms.reset();
      delivery->last_error = "the webhook was deleted";
      if (auto s = store_.update(*delivery, due_ms); !s.ok()) std::cerr << "contacts: webhooks: " << s.message() << "\n";
      continue;
    }
    attempt(due_ms, std::move(*delivery), webhook.value("url", std::string()), webhook.value("secret", std::string()));
  }
}

void Dispatcher::attempt(int64_t due_ms, Delivery delivery, std::string url_text, std::string secret) {
  auto url = parse_url(url_text);
  if (!url.ok()) {
    finish(due_ms, std::move(delivery), Outcome{0, url.status().message()});
    return;
  }
  const int64_t timestamp = now_ms() / 1000;
  http::request<http::string_body> request{http::verb::post, url->target, 11};
  request.set(http::field::host, url->host_header());
  request.set(http::field::user_agent, "contacts-webhooks/1");
  request.set(http::field::content_type, "application/json");
  request.set("X-Webhook-Event", delivery.event);
  request.set("X-Webhook-Timestamp", delivery.timestamp);
  request.set("X-Webhook-Signature", x_webhook_signature(secret, delivery.body));
  request.set("webhook-id", delivery.message_id());
  request.set("webhook-timestamp", std::to_string(timestamp));
  request.set("webhook-signature", standard_webhook_signature(secret, delivery.message_id(), timestamp, delivery.body));
  request.body() = delivery.body;
  request.prepare_payload();

  const DeliveryRef ref = delivery.ref;
  in_flight_.insert({ref.workspace_id.value, ref.webhook_id, ref.position});
  ++in_flight_per_webhook_[ref.webhook_id];
  stats_.in_flight.fetch_add(1);
  stats_.attempts.fetch_add(1);
  auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  asio::co_spawn(ioc_, post(tls_, *url, std::move(request), options_.allow_private, deadline),
                 [this, due_ms, delivery = std::move(delivery)](std::exception_ptr error, Sent sent) mutable {
                   const DeliveryRef r = delivery.ref;
                   in_flight_.erase({r.workspace_id.value, r.webhook_id, r.position});
                   if (--in_flight_per_webhook_[r.webhook_id] == 0) in_flight_per_webhook_.erase(r.webhook_id);
                   stats_.in_flight.fetch_sub(1);
                   if (error) sent = Sent{0, "the attempt failed unexpectedly"};
                   finish(due_ms, std::move(delivery), Outcome{sent.status, std::move(sent.error)});
                 });
}

void Dispatcher::finish(int64_t due_ms, Delivery delivery, const Outcome& outcome) {
  const int64_t now = now_ms();
  delivery.attempts += 1;
  delivery.last_attempt_at = now / 1000;
  delivery.last_status = outcome.status ? std::optional<int>(outcome.status) : std::nullopt;
  bool success = outcome.status >= 200 && outcome.status < 300;
  if (success) {
    delivery.state = DeliveryState::kSucceeded;
    delivery.last_error.reset();
    delivery.next_attempt_ms.reset();
    stats_.succeeded.fetch_add(1);
  } else {
    delivery.last_error = outcome.error.empty() ? "HTTP " + std::to_string(outcome.status) : outcome.error;
    size_t retry = static_cast<size_t>(delivery.attempts - 1);
    if (retry < options_.retry_schedule.size()) {
      delivery.next_attempt_ms = now + options_.retry_schedule[retry] * 1000;
      stats_.retries_scheduled.fetch_add(1);
    } else {
      delivery.state = DeliveryState::kFailed;
      delivery.next_attempt_ms.reset();
      stats_.failed.fetch_add(1);
    }
  }
  if (auto s = store_.update(delivery, due_ms); !s.ok()) std::cerr << "contacts: webhooks: " << s.message() << "\n";
}

}  // namespace contacts
