#include "webhooks/dispatcher.h"

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "webhooks/asio_http_sender.h"
#include "webhooks/signing.h"
#include "webhooks/url.h"

namespace contacts {

// A subscription as an attempt needs it (declared in dispatcher.h).
struct WebhookTarget {
  std::string url;
  std::string secret;
  bool is_active = true;
  std::string previous_secret;  // signs too until it expires (a rotation's overlap)
  int64_t previous_secret_expires_at = 0;
};

namespace {

constexpr size_t kOutboxBatch = 1000;
constexpr size_t kDueScan = 10000;

// The subscription's URL, secrets and state, from its row in the views; nullopt once it is
// deleted. The only place the dispatcher reads a subscription.
std::optional<WebhookTarget> find_webhook(const ViewStore& views, WorkspaceId ws,
                                          int64_t webhook_id) {
  auto webhook = views.webhook(ws, webhook_id);
  if (!webhook) return std::nullopt;
  return WebhookTarget{std::move(webhook->url), std::move(webhook->secret), webhook->is_active,
                       std::move(webhook->previous_secret), webhook->previous_secret_expires_at};
}

// Appends the deliveries of one outbox entry, due at `now_ms`: one per subscription it names
// that still exists. Throws nlohmann::json::exception when the entry is unreadable.
void add_deliveries_of(const ViewStore& views, const TakenChange& entry, int64_t now_ms,
                       std::vector<Delivery>& out) {
  auto j = nlohmann::json::parse(entry.json, nullptr, false);
  WorkspaceId ws(j.at("workspace_id").get<int64_t>());
  const auto& data = j.at("data");
  std::optional<std::string> email;
  if (data.at("email").is_string()) email = data["email"].get<std::string>();
  Delivery d;
  d.event = j.at("event").get<std::string>();
  d.created_at = j.at("occurred_at").get<int64_t>();
  d.timestamp = iso8601_millis(d.created_at);
  d.contact_id = data.at("id").get<int64_t>();
  d.body = delivery_body(d.event, d.timestamp, data.at("id").get<int64_t>(),
                         data.at("name").get<std::string>(), email);
  d.next_attempt_ms = now_ms;
  for (const auto& id : j.at("webhooks")) {
    d.ref = DeliveryRef{ws, id.get<int64_t>(), j.at("position").get<int64_t>()};
    // A subscription deleted since the change was queued gets nothing.
    if (find_webhook(views, ws, d.ref.webhook_id)) out.push_back(d);
  }
}

// One attempt's POST: the headers of DESIGN.md section 7, signed at `timestamp` (unix seconds).
// While a rotated-out secret has not expired, webhook-signature carries its signature too, after
// the new one (Standard Webhooks: space-separated); X-Webhook-Signature has room for one, the new.
HttpPost signed_post(const Delivery& delivery, const Url& url, const WebhookTarget& webhook,
                     int64_t timestamp) {
  const std::string& secret = webhook.secret;
  std::string signatures =
      standard_webhook_signature(secret, delivery.message_id(), timestamp, delivery.body);
  if (!webhook.previous_secret.empty() && timestamp < webhook.previous_secret_expires_at)
    signatures += " " + standard_webhook_signature(webhook.previous_secret, delivery.message_id(),
                                                   timestamp, delivery.body);
  HttpPost post;
  post.url = url;
  post.headers = {
      {"User-Agent", "contacts-webhooks/1"},
      {"Content-Type", "application/json"},
      {"X-Webhook-Event", delivery.event},
      {"X-Webhook-Timestamp", delivery.timestamp},
      {"X-Webhook-Signature", x_webhook_signature(secret, delivery.body)},
      {"webhook-id", delivery.message_id()},
      {"webhook-timestamp", std::to_string(timestamp)},
      {"webhook-signature", std::move(signatures)},
  };
  post.body = delivery.body;
  return post;
}

std::string failure_text(const HttpOutcome& outcome) {
  return outcome.error.empty() ? "HTTP " + std::to_string(outcome.status) : outcome.error;
}

// One event per attempt ("why did my CRM not get the event?"): a success at debug, a failure to
// be retried at warn, the last failure at error. The reason is a status code or the transport's
// error, which names no URL (a URL may hold credentials) and no part of the body.
void log_attempt(const Delivery& delivery, const RetryDecision& next, const HttpOutcome& outcome) {
  const DeliveryRef& ref = delivery.ref;
  const std::string message_id = delivery.message_id();
  if (next.kind == RetryDecision::kSucceeded) {
    log::debug("webhook delivered", {{"message_id", message_id},
                                     {"webhook_id", ref.webhook_id},
                                     {"workspace_id", ref.workspace_id.value},
                                     {"attempt", delivery.attempts},
                                     {"status", outcome.status}});
    return;
  }
  const std::string reason = failure_text(outcome);
  const bool last = next.kind == RetryDecision::kFailed;
  log::write(last ? log::Level::kError : log::Level::kWarn,
             last ? "webhook delivery failed, no more attempts" : "webhook attempt failed",
             {{"message_id", message_id},
              {"webhook_id", ref.webhook_id},
              {"workspace_id", ref.workspace_id.value},
              {"attempt", delivery.attempts},
              {"reason", reason},
              {"status", outcome.status}});
}

}  // namespace

Dispatcher::Dispatcher(const LiveViews& views, ChangeSource& changes, DeliveryStore& store,
                       DispatcherOptions options)
    : owned_clock_(std::make_unique<SystemClock>()),
      owned_sender_(std::make_unique<AsioHttpSender>(options.allow_private)),
      clock_(*owned_clock_),
      sender_(*owned_sender_),
      views_(views),
      changes_(changes),
      store_(store),
      options_(std::move(options)),
      timer_(ioc_) {}

Dispatcher::Dispatcher(const LiveViews& views, ChangeSource& changes, DeliveryStore& store,
                       DispatcherOptions options, const Clock& clock, HttpSender& sender)
    : clock_(clock),
      sender_(sender),
      views_(views),
      changes_(changes),
      store_(store),
      options_(std::move(options)),
      timer_(ioc_) {}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  stopping_ = false;
  for (const auto& [ws, webhook_id] : store_.parked_webhooks())
    parked_.insert({ws.value, webhook_id});
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
    resume_parked();
    start_due();
  } catch (const std::exception& e) {
    log::error("webhooks: " + std::string(e.what()));
  }
  schedule_tick(notified_ ? std::chrono::milliseconds(0) : options_.poll_interval);
}

void Dispatcher::take_changes() {
  auto views = views_.get();
  if (!views) return;  // being rebuilt before the node serves
  auto entries = changes_.take(kOutboxBatch);
  if (entries.empty()) return;
  std::vector<Delivery> deliveries;
  const int64_t now = clock_.now_millis();
  for (const auto& entry : entries) {
    try {
      add_deliveries_of(*views, entry, now, deliveries);
    } catch (const nlohmann::json::exception& e) {
      log::error("webhooks: dropping an unreadable outbox entry", {{"error", e.what()}});
    }
  }
  auto added = store_.add(deliveries);
  if (!added.ok()) {
    log::error("webhooks: " + added.status().message());
    return;  // the changes are not let go of, and are taken next time
  }
  if (auto s = changes_.taken(entries); !s.ok()) log::error("webhooks: " + s.message());
  if (entries.size() == kOutboxBatch) notified_ = true;
}

// A paused subscription's deliveries wait parked, neither attempted nor counted against their
// retries; once it is resumed (or deleted: start_due then cancels them) they are due at once, in
// the order of their changes.
void Dispatcher::resume_parked() {
  if (parked_.empty()) return;
  auto views = views_.get();
  if (!views) return;
  const int64_t now = clock_.now_millis();
  for (auto it = parked_.begin(); it != parked_.end();) {
    const WorkspaceId ws(it->first);
    auto webhook = find_webhook(*views, ws, it->second);
    if (webhook && !webhook->is_active) {
      ++it;
      continue;
    }
    auto moved = store_.unpark(ws, it->second, now, kDueScan);
    if (!moved.ok()) {
      log::error("webhooks: " + moved.status().message());
      return;
    }
    if (*moved == kDueScan) {
      notified_ = true;  // more next tick
      ++it;
    } else {
      it = parked_.erase(it);
    }
  }
}

void Dispatcher::start_due() {
  if (in_flight_.size() >= options_.max_in_flight) return;
  // Rows of subscriptions already at their in-flight bound are stepped over, so one endpoint's
  // backlog never hides the others' due deliveries.
  auto saturated = [this](const DeliveryRef& ref) {
    auto it = in_flight_per_webhook_.find(ref.webhook_id);
    return it != in_flight_per_webhook_.end() && it->second >= options_.per_webhook_in_flight;
  };
  auto views = views_.get();
  if (!views) return;
  std::vector<std::pair<int64_t, DeliveryRef>> paused;
  for (const auto& [due_ms, ref] : store_.due(clock_.now_millis(), kDueScan, saturated)) {
    if (in_flight_.size() >= options_.max_in_flight) break;
    auto flight = std::make_tuple(ref.workspace_id.value, ref.webhook_id, ref.position);
    if (in_flight_.count(flight) || saturated(ref)) continue;
    auto delivery = store_.get(ref);
    if (!delivery) continue;
    auto webhook = find_webhook(*views, ref.workspace_id, ref.webhook_id);
    if (!webhook) {
      cancel(due_ms, std::move(*delivery));
      continue;
    }
    if (!webhook->is_active) {
      paused.emplace_back(due_ms, ref);
      parked_.insert({ref.workspace_id.value, ref.webhook_id});
      continue;
    }
    attempt(due_ms, std::move(*delivery), *webhook);
  }
  if (paused.empty()) return;
  if (auto s = store_.park(paused); !s.ok()) log::error("webhooks: " + s.message());
}

// A delivery whose subscription was deleted is never attempted.
void Dispatcher::cancel(int64_t due_ms, Delivery delivery) {
  delivery.state = DeliveryState::kCancelled;
  delivery.next_attempt_ms.reset();
  delivery.last_error = "the webhook was deleted";
  record(delivery, due_ms);
}

void Dispatcher::attempt(int64_t due_ms, Delivery delivery, const WebhookTarget& webhook) {
  auto url = parse_url(webhook.url);
  if (!url.ok()) return finish(due_ms, std::move(delivery), HttpOutcome{0, url.status().message()});
  HttpPost post = signed_post(delivery, *url, webhook, clock_.now_seconds());

  const DeliveryRef ref = delivery.ref;
  in_flight_.insert({ref.workspace_id.value, ref.webhook_id, ref.position});
  ++in_flight_per_webhook_[ref.webhook_id];
  stats_.in_flight.fetch_add(1);
  stats_.attempts.fetch_add(1);
  post.deadline = std::chrono::steady_clock::now() + options_.timeout;
  sender_.post(ioc_.get_executor(), std::move(post),
               [this, due_ms, delivery = std::move(delivery)](HttpOutcome outcome) mutable {
                 const DeliveryRef r = delivery.ref;
                 in_flight_.erase({r.workspace_id.value, r.webhook_id, r.position});
                 if (--in_flight_per_webhook_[r.webhook_id] == 0)
                   in_flight_per_webhook_.erase(r.webhook_id);
                 stats_.in_flight.fetch_sub(1);
                 finish(due_ms, std::move(delivery), outcome);
               });
}

void Dispatcher::finish(int64_t due_ms, Delivery delivery, const HttpOutcome& outcome) {
  const int64_t now = clock_.now_millis();
  delivery.attempts += 1;
  delivery.last_attempt_at = now / 1000;
  delivery.last_status = outcome.status ? std::optional<int>(outcome.status) : std::nullopt;
  const RetryDecision next =
      decide_after_attempt(delivery.attempts, outcome, options_.retry_schedule, now);
  log_attempt(delivery, next, outcome);
  switch (next.kind) {
    case RetryDecision::kSucceeded:
      delivery.state = DeliveryState::kSucceeded;
      delivery.last_error.reset();
      delivery.next_attempt_ms.reset();
      stats_.succeeded.fetch_add(1);
      break;
    case RetryDecision::kRetry:
      delivery.last_error = failure_text(outcome);
      delivery.next_attempt_ms = next.retry_at_ms;
      stats_.retries_scheduled.fetch_add(1);
      break;
    case RetryDecision::kFailed:
      delivery.state = DeliveryState::kFailed;
      delivery.last_error = failure_text(outcome);
      delivery.next_attempt_ms.reset();
      stats_.failed.fetch_add(1);
      break;
  }
  record(delivery, due_ms);
}

void Dispatcher::record(const Delivery& delivery, int64_t due_ms) {
  if (auto s = store_.update(delivery, due_ms); !s.ok()) log::error("webhooks: " + s.message());
}

void DispatcherStats::add_to(Exposition& metrics) const {
  metrics.counter("contacts_webhook_attempts_total", "Webhook delivery attempts made.",
                  static_cast<double>(attempts.load()));
  constexpr std::string_view kDeliveries = "contacts_webhook_deliveries_total";
  constexpr std::string_view kDeliveriesHelp =
      "Webhook deliveries finished: succeeded, or failed after the last attempt.";
  metrics.counter(kDeliveries, kDeliveriesHelp, static_cast<double>(succeeded.load()),
                  {{"result", "succeeded"}});
  metrics.counter(kDeliveries, kDeliveriesHelp, static_cast<double>(failed.load()),
                  {{"result", "failed"}});
  metrics.counter("contacts_webhook_retries_scheduled_total",
                  "Failed webhook attempts that were scheduled again.",
                  static_cast<double>(retries_scheduled.load()));
  metrics.gauge("contacts_webhook_in_flight", "Webhook attempts under way.",
                static_cast<double>(in_flight.load()));
}

void add_backlog_metrics(Exposition& metrics, const DeliveryStore& store, int64_t now_ms) {
  DeliveryBacklog backlog = store.backlog(now_ms);
  metrics.gauge("contacts_webhook_pending_deliveries",
                "Webhook deliveries not finished: waiting for an attempt, a retry, or their paused "
                "subscription.",
                static_cast<double>(backlog.pending));
  metrics.gauge("contacts_webhook_parked_deliveries",
                "Pending webhook deliveries held while their subscription is paused.",
                static_cast<double>(backlog.parked));
  metrics.gauge("contacts_webhook_due_deliveries",
                "Pending webhook deliveries whose next attempt is due and not yet made.",
                static_cast<double>(backlog.due));
  const int64_t waited_ms =
      backlog.earliest_due_ms ? std::max<int64_t>(0, now_ms - *backlog.earliest_due_ms) : 0;
  metrics.gauge("contacts_webhook_oldest_due_age_seconds",
                "How long the earliest due webhook attempt has waited past its due time "
                "(0: none due).",
                static_cast<double>(waited_ms) / 1000.0);
}

}  // namespace contacts
