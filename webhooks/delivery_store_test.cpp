// The DeliveryStore in a temporary directory: one record per delivery, the due index, paging,
// reopening, and the API's JSON of a delivery.
#include "webhooks/delivery_store.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/temp_dir.h"
#include "webhooks/dispatcher.h"

namespace contacts {
namespace {

// ---------------------------------------------------------------------------------------------
// DeliveryStore

// A DeliveryStore in a fresh directory, removed afterwards.
class StoreFixture {
 public:
  StoreFixture() { reopen(); }
  void reopen() {
    store.reset();
    auto opened = DeliveryStore::open(dir_.path() + "/webhooks");
    REQUIRE_MESSAGE(opened.ok(), opened.status().message());
    store = std::move(*opened);
  }

 private:
  TempDir dir_{"webhooks_test"};  // declared first: outlives the store

 public:
  std::unique_ptr<DeliveryStore> store;
};

const WorkspaceId kWs(2);

Delivery pending_delivery(int64_t webhook_id, int64_t position, int64_t due_ms,
                          WorkspaceId ws = kWs) {
  Delivery d;
  d.ref = {ws, webhook_id, position};
  d.event = "contact.created";
  d.body = R"({"event":"contact.created","position":)" + std::to_string(position) + "}";
  d.timestamp = "2024-03-28T00:40:00.000Z";
  d.created_at = 1711586400;
  d.next_attempt_ms = due_ms;
  return d;
}

std::vector<int64_t> positions_of(const std::vector<std::pair<int64_t, DeliveryRef>>& due) {
  std::vector<int64_t> out;
  for (const auto& [due_ms, ref] : due) out.push_back(ref.position);
  return out;
}

std::vector<int64_t> positions_of(const DeliveryPage& page) {
  std::vector<int64_t> out;
  for (const auto& d : page.deliveries) out.push_back(d.ref.position);
  return out;
}

TEST_CASE("DeliveryStore: add records each delivery once and get returns it field for field") {
  StoreFixture f;
  Delivery d = pending_delivery(11, 30, 5000);
  auto first = f.store->add({d});
  REQUIRE(first.ok());
  CHECK(*first == 1);
  auto again = f.store->add({d});
  REQUIRE(again.ok());
  CHECK(*again == 0);
  // The same ref twice in one call, next to a new one: one new.
  auto mixed = f.store->add({d, pending_delivery(11, 31, 6000), pending_delivery(11, 31, 6000)});
  REQUIRE(mixed.ok());
  CHECK(*mixed == 1);

  CHECK(f.store->exists(d.ref));
  CHECK_FALSE(f.store->exists({kWs, 11, 32}));
  CHECK_FALSE(f.store->exists({WorkspaceId(3), 11, 30}));
  auto got = f.store->get(d.ref);
  REQUIRE(got.has_value());
  CHECK(got->ref == d.ref);
  CHECK(got->event == d.event);
  CHECK(got->body == d.body);
  CHECK(got->timestamp == d.timestamp);
  CHECK(got->created_at == d.created_at);
  CHECK(got->state == DeliveryState::kPending);
  CHECK(got->attempts == 0);
  CHECK_FALSE(got->last_status.has_value());
  CHECK_FALSE(got->last_error.has_value());
  CHECK_FALSE(got->last_attempt_at.has_value());
  CHECK(got->next_attempt_ms == std::optional<int64_t>(5000));
  CHECK(got->message_id() == "msg_30");
  CHECK_FALSE(f.store->get({kWs, 12, 30}).has_value());

  CHECK(f.store->pending() == 2);
  CHECK(f.store->list(kWs, 11, 1, 10).total == 2);
}

TEST_CASE("DeliveryStore: due lists attempts due by now_ms, earliest first, at most max") {
  StoreFixture f;
  REQUIRE(f.store
              ->add({pending_delivery(1, 10, 3000), pending_delivery(1, 11, 1000),
                     pending_delivery(2, 12, 2000), pending_delivery(1, 13, 2000, WorkspaceId(3)),
                     pending_delivery(1, 14, 9000)})
              .ok());
  auto due = f.store->due(2000, 100);
  // 1000, then the two at 2000 in (ws, webhook, position) order.
  CHECK(positions_of(due) == std::vector<int64_t>{11, 12, 13});
  REQUIRE(due.size() == 3);
  CHECK(due[0].first == 1000);
  CHECK(due[0].second == DeliveryRef{kWs, 1, 11});
  CHECK(due[1].first == 2000);
  CHECK(due[1].second == DeliveryRef{kWs, 2, 12});
  CHECK(due[2].second == DeliveryRef{WorkspaceId(3), 1, 13});

  CHECK(f.store->due(999, 100).empty());
  CHECK(positions_of(f.store->due(1000, 100)) ==
        std::vector<int64_t>{11});  // due_ms == now_ms is due
  CHECK(positions_of(f.store->due(1999, 100)) == std::vector<int64_t>{11});
  CHECK(positions_of(f.store->due(8999, 100)) == std::vector<int64_t>{11, 12, 13, 10});
  CHECK(positions_of(f.store->due(100000, 100)) == std::vector<int64_t>{11, 12, 13, 10, 14});
  CHECK(positions_of(f.store->due(100000, 2)) == std::vector<int64_t>{11, 12});
  CHECK(f.store->pending() == 5);
}

TEST_CASE("DeliveryStore: backlog counts the pending, the due, and the earliest due time") {
  StoreFixture f;
  CHECK_FALSE(f.store->backlog(5000).earliest_due_ms);
  REQUIRE(f.store
              ->add({pending_delivery(1, 10, 3000), pending_delivery(1, 11, 1000),
                     pending_delivery(2, 12, 9000)})
              .ok());
  DeliveryBacklog backlog = f.store->backlog(3000);
  CHECK(backlog.pending == 3);
  CHECK(backlog.due == 2);  // due_ms == now_ms is due
  CHECK(backlog.earliest_due_ms == 1000);
  CHECK(f.store->backlog(999).due == 0);

  Exposition metrics;
  add_backlog_metrics(metrics, *f.store, 3500);
  const std::string text = metrics.text();
  CHECK(text.find("\ncontacts_webhook_pending_deliveries 3\n") != std::string::npos);
  CHECK(text.find("\ncontacts_webhook_due_deliveries 2\n") != std::string::npos);
  CHECK(text.find("\ncontacts_webhook_oldest_due_age_seconds 2.5\n") != std::string::npos);
  Exposition early;
  add_backlog_metrics(early, *f.store, 500);  // nothing due yet: no wait
  CHECK(early.text().find("\ncontacts_webhook_oldest_due_age_seconds 0\n") != std::string::npos);
}

TEST_CASE("DeliveryStore: due steps over what `skip` names without counting it toward max") {
  StoreFixture f;
  std::vector<Delivery> backlog;
  for (int64_t p = 100; p < 150; ++p)
    backlog.push_back(pending_delivery(1, p, 1000));  // one busy webhook
  backlog.push_back(pending_delivery(2, 200, 5000));  // due later
  REQUIRE(f.store->add(backlog).ok());
  auto busy = [](const DeliveryRef& r) { return r.webhook_id == 1; };
  CHECK(positions_of(f.store->due(10000, 3, busy)) == std::vector<int64_t>{200});
  CHECK(positions_of(f.store->due(10000, 3)) == std::vector<int64_t>{100, 101, 102});
}

TEST_CASE("DeliveryStore: a delivery that is not pending is recorded but never due") {
  StoreFixture f;
  Delivery done = pending_delivery(1, 10, 1000);
  done.state = DeliveryState::kCancelled;
  Delivery unscheduled = pending_delivery(1, 11, 0);
  unscheduled.next_attempt_ms.reset();
  auto added = f.store->add({done, unscheduled});
  REQUIRE(added.ok());
  CHECK(*added == 2);
  CHECK(f.store->due(100000, 10).empty());
  CHECK(f.store->pending() == 0);
  CHECK(f.store->list(kWs, 1, 1, 10).total == 2);
  CHECK(f.store->get(done.ref)->state == DeliveryState::kCancelled);
}

TEST_CASE("DeliveryStore: update moves the due entry to the next attempt, and out once succeeded") {
  StoreFixture f;
  Delivery d = pending_delivery(1, 10, 1000);
  REQUIRE(f.store->add({d, pending_delivery(1, 11, 1500)}).ok());

  // A failed attempt: a retry at 6000.
  d.attempts = 1;
  d.last_status = 503;
  d.last_error = "HTTP 503";
  d.last_attempt_at = 1;
  d.next_attempt_ms = 6000;
  REQUIRE(f.store->update(d, 1000).ok());
  CHECK(positions_of(f.store->due(5999, 10)) == std::vector<int64_t>{11});
  auto later = f.store->due(6000, 10);
  CHECK(positions_of(later) == std::vector<int64_t>{11, 10});
  REQUIRE(later.size() == 2);
  CHECK(later[1].first == 6000);
  CHECK(f.store->pending() == 2);
  auto stored = f.store->get(d.ref);
  REQUIRE(stored.has_value());
  CHECK(stored->attempts == 1);
  CHECK(stored->last_status == std::optional<int>(503));
  CHECK(stored->last_error == std::optional<std::string>("HTTP 503"));
  CHECK(stored->last_attempt_at == std::optional<int64_t>(1));
  CHECK(stored->next_attempt_ms == std::optional<int64_t>(6000));

  // Success: out of the due index, kept in the list.
  d.attempts = 2;
  d.state = DeliveryState::kSucceeded;
  d.last_status = 204;
  d.last_error.reset();
  d.last_attempt_at = 6;
  d.next_attempt_ms.reset();
  REQUIRE(f.store->update(d, 6000).ok());
  CHECK(positions_of(f.store->due(100000, 10)) == std::vector<int64_t>{11});
  CHECK(f.store->pending() == 1);
  stored = f.store->get(d.ref);
  REQUIRE(stored.has_value());
  CHECK(stored->state == DeliveryState::kSucceeded);
  CHECK(stored->attempts == 2);
  CHECK(stored->last_status == std::optional<int>(204));
  CHECK_FALSE(stored->last_error.has_value());
  CHECK_FALSE(stored->next_attempt_ms.has_value());
  CHECK(f.store->list(kWs, 1, 1, 10).total == 2);

  // Giving up: failed, likewise out of the index.
  Delivery other = *f.store->get({kWs, 1, 11});
  other.state = DeliveryState::kFailed;
  other.attempts = 10;
  other.next_attempt_ms.reset();
  REQUIRE(f.store->update(other, 1500).ok());
  CHECK(f.store->due(100000, 10).empty());
  CHECK(f.store->pending() == 0);
  CHECK(f.store->get({kWs, 1, 11})->state == DeliveryState::kFailed);
}

TEST_CASE(
    "DeliveryStore: parked deliveries are pending but never due, and unpark makes them due in "
    "the order of their changes, at most max at a time") {
  StoreFixture f;
  REQUIRE(f.store
              ->add({pending_delivery(1, 30, 100), pending_delivery(1, 10, 200),
                     pending_delivery(1, 20, 300), pending_delivery(2, 5, 100)})
              .ok());
  auto due = f.store->due(1000, 10);
  std::erase_if(due, [](const auto& entry) { return entry.second.webhook_id != 1; });
  REQUIRE(f.store->park(due).ok());
  CHECK(positions_of(f.store->due(1000, 10)) == std::vector<int64_t>{5});
  CHECK(f.store->pending() == 4);
  CHECK_FALSE(f.store->get({kWs, 1, 10})->next_attempt_ms.has_value());
  CHECK(f.store->get({kWs, 1, 10})->state == DeliveryState::kPending);
  REQUIRE(f.store->parked_webhooks().size() == 1);
  CHECK(f.store->parked_webhooks()[0].second == 1);

  auto moved = f.store->unpark(kWs, 1, 5000, 2);
  REQUIRE(moved.ok());
  CHECK(*moved == 2);
  CHECK(positions_of(f.store->due(5000, 10)) == std::vector<int64_t>{5, 10, 20});
  CHECK(f.store->get({kWs, 1, 20})->next_attempt_ms == 5000);
  moved = f.store->unpark(kWs, 1, 6000, 2);
  REQUIRE(moved.ok());
  CHECK(*moved == 1);
  CHECK(f.store->parked_webhooks().empty());
  CHECK(positions_of(f.store->due(6000, 10)) == std::vector<int64_t>{5, 10, 20, 30});
  CHECK(f.store->pending() == 4);
}

TEST_CASE(
    "DeliveryStore: redeliver makes any delivery pending and due now in a new round; an update "
    "of the round before records nothing") {
  StoreFixture f;
  Delivery d = pending_delivery(1, 10, 100);
  REQUIRE(f.store->add({d}).ok());
  Delivery done = d;
  done.state = DeliveryState::kFailed;
  done.attempts = 3;
  done.last_error = "HTTP 500";
  done.next_attempt_ms.reset();
  REQUIRE(f.store->update(done, 100).ok());
  CHECK(f.store->get(d.ref)->body.empty());

  auto again = f.store->redeliver(d.ref, d.body, 900);
  REQUIRE(again.ok());
  CHECK(again->state == DeliveryState::kPending);
  CHECK(again->attempts == 0);
  CHECK(again->round == 1);
  CHECK_FALSE(again->last_error.has_value());
  CHECK(f.store->get(d.ref)->body == d.body);
  CHECK(positions_of(f.store->due(1000, 10)) == std::vector<int64_t>{10});
  CHECK(f.store->list(kWs, 1, 1, 10).total == 1);

  REQUIRE(f.store->update(done, 100).ok());  // an attempt of round 0 ending late
  CHECK(f.store->get(d.ref)->state == DeliveryState::kPending);
  CHECK(positions_of(f.store->due(1000, 10)) == std::vector<int64_t>{10});

  auto missing = f.store->redeliver({kWs, 1, 11}, "x", 900);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Code::kNotFound);
}

TEST_CASE("DeliveryStore: list is newest first (higher position first), paged, with the total") {
  StoreFixture f;
  std::vector<Delivery> batch;
  for (int64_t position : {5, 40, 7, 300, 12}) batch.push_back(pending_delivery(1, position, 1000));
  batch.push_back(pending_delivery(2, 99, 1000));                  // another webhook
  batch.push_back(pending_delivery(1, 98, 1000, WorkspaceId(3)));  // another workspace
  REQUIRE(f.store->add(batch).ok());
  REQUIRE(f.store->add({pending_delivery(1, 1000, 1000)}).ok());

  auto all = f.store->list(kWs, 1, 1, 100);
  CHECK(all.total == 6);
  CHECK(positions_of(all) == std::vector<int64_t>{1000, 300, 40, 12, 7, 5});
  CHECK(all.deliveries[1].body == pending_delivery(1, 300, 0).body);

  auto page1 = f.store->list(kWs, 1, 1, 4);
  auto page2 = f.store->list(kWs, 1, 2, 4);
  auto page3 = f.store->list(kWs, 1, 3, 4);
  CHECK(positions_of(page1) == std::vector<int64_t>{1000, 300, 40, 12});
  CHECK(positions_of(page2) == std::vector<int64_t>{7, 5});
  CHECK(page3.deliveries.empty());
  CHECK(page1.total == 6);
  CHECK(page2.total == 6);
  CHECK(page3.total == 6);

  auto other_webhook = f.store->list(kWs, 2, 1, 100);
  CHECK(other_webhook.total == 1);
  CHECK(positions_of(other_webhook) == std::vector<int64_t>{99});
  auto other_workspace = f.store->list(WorkspaceId(3), 1, 1, 100);
  CHECK(other_workspace.total == 1);
  CHECK(positions_of(other_workspace) == std::vector<int64_t>{98});
  auto none = f.store->list(kWs, 3, 1, 100);
  CHECK(none.total == 0);
  CHECK(none.deliveries.empty());
}

TEST_CASE("DeliveryStore: a reopened store still has its deliveries, due index and counts") {
  StoreFixture f;
  Delivery d = pending_delivery(1, 10, 1000);
  REQUIRE(f.store->add({d, pending_delivery(1, 11, 2000)}).ok());
  d.state = DeliveryState::kSucceeded;
  d.attempts = 1;
  d.last_status = 200;
  d.next_attempt_ms.reset();
  REQUIRE(f.store->update(d, 1000).ok());

  f.reopen();
  auto stored = f.store->get(d.ref);
  REQUIRE(stored.has_value());
  CHECK(stored->state == DeliveryState::kSucceeded);
  CHECK(stored->last_status == std::optional<int>(200));
  CHECK(f.store->pending() == 1);
  CHECK(positions_of(f.store->due(100000, 10)) == std::vector<int64_t>{11});
  auto page = f.store->list(kWs, 1, 1, 10);
  CHECK(page.total == 2);
  CHECK(positions_of(page) == std::vector<int64_t>{11, 10});
  // Still once only after a restart.
  auto again = f.store->add({pending_delivery(1, 11, 2000)});
  REQUIRE(again.ok());
  CHECK(*again == 0);
  CHECK(f.store->list(kWs, 1, 1, 10).total == 2);
}

TEST_CASE(
    "Delivery::to_api_json serves the message id, state and next attempt rounded up to seconds") {
  Delivery d = pending_delivery(1, 42, 1711586400001);
  d.attempts = 1;
  d.last_status = 500;
  d.last_error = "HTTP 500";
  d.last_attempt_at = 1711586395;
  CHECK(d.to_api_json() ==
        R"({"message_id":"msg_42","event":"contact.created","state":"pending","attempts":1,)"
        R"("last_status_code":500,"last_error":"HTTP 500","last_attempt_at":1711586395,)"
        R"("next_attempt_at":1711586401,"created_at":1711586400})");
  d.state = DeliveryState::kSucceeded;
  d.last_status.reset();
  d.last_error.reset();
  d.last_attempt_at.reset();
  d.next_attempt_ms.reset();
  CHECK(d.to_api_json() ==
        R"({"message_id":"msg_42","event":"contact.created","state":"succeeded","attempts":1,)"
        R"("last_status_code":null,"last_error":null,"last_attempt_at":null,)"
        R"("next_attempt_at":null,"created_at":1711586400})");
}

}  // namespace
}  // namespace contacts
