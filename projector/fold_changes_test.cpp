// What the fold does besides the contact views: webhook subscriptions and the outbox of
// changes for the dispatcher, records in the wrong partition, and the read index following
// every commit.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "projector/fold_fixture.h"
#include "tests/schema_check.h"

namespace contacts {
namespace {

using namespace fold_testing;

// ---------------------------------------------------------------------------------------------
// Webhooks: the subscription rows, and the outbox record_change writes for the dispatcher.

const std::string kSecret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const std::string kHookUrl = "https://hooks.example.com/in";

json webhook_create(const std::string& command_id, const std::string& name, const json& events,
                    WorkspaceId ws = kWs) {
  return simple("webhook_create", command_id,
                {{"name", name},
                 {"url", kHookUrl},
                 {"events", events},
                 {"secret", kSecret},
                 {"actor", {{"user_id", 7}}}},
                ws);
}

json webhook_delete(const std::string& command_id, int64_t webhook_id, WorkspaceId ws = kWs) {
  return simple("webhook_delete", command_id,
                {{"webhook_id", webhook_id}, {"actor", {{"user_id", 7}}}}, ws);
}

// The committed subscriptions of a workspace, as (webhook id, event bits).
std::vector<std::pair<int64_t, int>> subscriptions_of(Fixture& f, WorkspaceId ws = kWs) {
  std::vector<std::pair<int64_t, int>> out;
  auto bytes = f.store->begin_batch().get(keys::webhook_set_key(ws));
  for (const auto& s : decode_subscriptions(bytes.value_or("")))
    out.emplace_back(s.webhook_id, s.events);
  return out;
}

// The committed outbox entries, oldest position first.
std::vector<std::pair<int64_t, json>> outbox_of(Fixture& f) {
  std::vector<std::pair<int64_t, json>> out;
  for (const auto& [position, value] : f.store->outbox(100))
    out.emplace_back(position, json::parse(value));
  return out;
}

// A webhook row as the views store it (its JSON, secret included).
std::optional<std::string> webhook_json(Fixture& f, WorkspaceId ws, int64_t id) {
  auto webhook = f.store->webhook(ws, id);
  if (!webhook) return std::nullopt;
  return encode(*webhook);
}
std::vector<Webhook> webhooks_json(Fixture& f, WorkspaceId ws) { return f.store->webhooks(ws); }

TEST_CASE(
    "webhook_create stores the row with its secret, subscribes the workspace and audits "
    "webhook.create") {
  Fixture f;
  REQUIRE(f.feed(webhook_create("w1", "CRM sync", {"contact.deleted", "contact.created"}), 4).ok());
  auto row_text = webhook_json(f, kWs, id_at(4));
  REQUIRE(row_text.has_value());
  json row = json::parse(*row_text);
  CHECK(row["id"] == id_at(4));
  CHECK(row["name"] == "CRM sync");
  CHECK(row["url"] == kHookUrl);
  CHECK(row["events"] == json{"contact.created", "contact.deleted"});  // in the canonical order
  CHECK(row["is_active"] == true);
  CHECK(row["created_at"] == 1711600000);
  CHECK(row["secret"] == kSecret);
  CHECK(webhooks_json(f, kWs).size() == 1);
  CHECK(webhooks_json(f, WorkspaceId(3)).empty());
  CHECK_FALSE(webhook_json(f, WorkspaceId(3), id_at(4)).has_value());

  CHECK(subscriptions_of(f) ==
        std::vector<std::pair<int64_t, int>>{{id_at(4), kContactCreated | kContactDeleted}});
  CHECK(subscriptions_of(f, WorkspaceId(3)).empty());

  auto audit = f.store->audit(kWs, 1, 10);
  REQUIRE(audit.total == 1);
  json entry = json::parse(encode(audit.entries.at(0)));
  CHECK(entry["id"] == id_at(4));
  CHECK(entry["action"] == "webhook.create");
  CHECK(entry["actor"] == json{{"user_id", 7}});
  CHECK(entry["target_type"] == "webhook");
  CHECK(entry["target_id"] == id_at(4));
  CHECK(entry["details"] == json{{"name", "CRM sync"},
                                 {"url", kHookUrl},
                                 {"events", {"contact.created", "contact.deleted"}}});
  CHECK(entry["created_at"] == 1711600000);
  CHECK(encode(audit.entries.at(0)).find(kSecret) ==
        std::string::npos);  // the audit log never shows the secret

  // A second webhook adds a subscription next to the first.
  REQUIRE(
      f.feed(webhook_create("w2", "All", {"contact.created", "contact.updated", "contact.deleted"}),
             5)
          .ok());
  CHECK(subscriptions_of(f) ==
        std::vector<std::pair<int64_t, int>>{{id_at(4), kContactCreated | kContactDeleted},
                                             {id_at(5), kAllWebhookEvents}});
  CHECK(webhooks_json(f, kWs).size() == 2);
  CHECK(f.store->audit(kWs, 1, 10).total == 2);
}

TEST_CASE("webhook_delete removes the row and its subscription and audits webhook.delete") {
  Fixture f;
  f.feed_in_order({webhook_create("w1", "First", {"contact.created"}),
                   webhook_create("w2", "Second", {"contact.updated"})});
  REQUIRE(f.feed(webhook_delete("d1", id_at(0)), 2).ok());
  CHECK_FALSE(webhook_json(f, kWs, id_at(0)).has_value());
  CHECK(webhook_json(f, kWs, id_at(1)).has_value());
  CHECK(webhooks_json(f, kWs).size() == 1);
  CHECK(subscriptions_of(f) == std::vector<std::pair<int64_t, int>>{{id_at(1), kContactUpdated}});

  auto audit = f.store->audit(kWs, 1, 10);
  REQUIRE(audit.total == 3);
  json entry = json::parse(encode(audit.entries.at(0)));  // newest first
  CHECK(entry["id"] == id_at(2));
  CHECK(entry["action"] == "webhook.delete");
  CHECK(entry["actor"] == json{{"user_id", 7}});
  CHECK(entry["target_type"] == "webhook");
  CHECK(entry["target_id"] == id_at(0));
  CHECK(entry["details"] == json{{"name", "First"}, {"url", kHookUrl}});

  // The last one gone, the workspace has no subscription set at all.
  REQUIRE(f.feed(webhook_delete("d2", id_at(1)), 3).ok());
  CHECK(webhooks_json(f, kWs).empty());
  CHECK(subscriptions_of(f).empty());
  CHECK(f.keys_under(keys::webhook_set_key(kWs)).empty());
  CHECK(f.store->audit(kWs, 1, 10).total == 4);
}

TEST_CASE(
    "deleting a missing webhook is a no-op: no row change, no subscription change, no audit") {
  Fixture f;
  REQUIRE(f.feed(webhook_create("w1", "Kept", {"contact.deleted"}), 0).ok());
  REQUIRE(f.feed(webhook_delete("d1", 999), 1).ok());
  // The id of a webhook of workspace 2, deleted in workspace 3.
  REQUIRE(f.feed(webhook_delete("d2", id_at(0), WorkspaceId(3)), 2).ok());
  CHECK(webhook_json(f, kWs, id_at(0)).has_value());
  CHECK(subscriptions_of(f) == std::vector<std::pair<int64_t, int>>{{id_at(0), kContactDeleted}});
  CHECK(f.store->audit(kWs, 1, 10).total == 1);
  CHECK(f.store->audit(WorkspaceId(3), 1, 10).total == 0);
  CHECK(f.keys_under(keys::webhook_set_key(WorkspaceId(3))).empty());

  // Deleted once, deleting it again changes nothing either.
  REQUIRE(f.feed(webhook_delete("d3", id_at(0)), 3).ok());
  REQUIRE(f.feed(webhook_delete("d4", id_at(0)), 4).ok());
  CHECK(f.store->audit(kWs, 1, 10).total == 2);
  CHECK(subscriptions_of(f).empty());
}

TEST_CASE("record_change: a subscription to contact.deleted only gets deletes, not visits") {
  Fixture f;
  REQUIRE(f.feed_and_record(webhook_create("w1", "Deletes", {"contact.deleted"}), 0).ok());
  REQUIRE(f.feed_and_record(visit("a", 100, "Alice Martin", "alice@example.com"), 1).ok());
  REQUIRE(f.feed_and_record(visit("b", 200, "Alice Martin", "alice@example.com"), 2).ok());
  REQUIRE(f.changes.size() == 2);  // a created and an updated change, neither wanted
  CHECK(outbox_of(f).empty());

  REQUIRE(f.feed_and_record(delete_contact("c", id_at(1)), 3).ok());
  auto outbox = outbox_of(f);
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].first == id_at(3));
  const json& entry = outbox[0].second;
  CHECK(entry["position"] == id_at(3));
  CHECK(entry["event"] == "contact.deleted");
  CHECK(entry["workspace_id"] == kWs.value);
  CHECK(entry["occurred_at"] == 1711600000);
  CHECK(entry["data"] ==
        json{{"id", id_at(1)}, {"name", "Alice Martin"}, {"email", "alice@example.com"}});
  CHECK(entry["webhooks"] == json{id_at(0)});
}

TEST_CASE("record_change lists exactly the subscriptions that want the event") {
  Fixture f;
  f.feed_in_order(
      {webhook_create("w1", "Created and updated", {"contact.created", "contact.updated"}),
       webhook_create("w2", "Created", {"contact.created"}),
       webhook_create("w3", "Deleted", {"contact.deleted"})});
  const int64_t both = id_at(0), created = id_at(1);
  REQUIRE(f.feed_and_record(visit("a", 100, "Alice", "a@x"), 3).ok());
  REQUIRE(f.feed_and_record(visit("b", 200, "Alice", "a@x"), 4).ok());
  REQUIRE(f.feed_and_record(visit("c", 300, "Bob", nullptr), 5).ok());
  auto outbox = outbox_of(f);
  REQUIRE(outbox.size() == 3);
  CHECK(outbox[0].first == id_at(3));
  CHECK(outbox[0].second["event"] == "contact.created");
  CHECK(outbox[0].second["webhooks"] == json{both, created});
  CHECK(outbox[1].first == id_at(4));
  CHECK(outbox[1].second["event"] == "contact.updated");
  CHECK(outbox[1].second["webhooks"] == json{both});
  CHECK(outbox[1].second["data"] == json{{"id", id_at(3)}, {"name", "Alice"}, {"email", "a@x"}});
  CHECK(outbox[2].first == id_at(5));
  CHECK(outbox[2].second["event"] == "contact.created");
  CHECK(outbox[2].second["data"] == json{{"id", id_at(5)}, {"name", "Bob"}, {"email", nullptr}});
}

TEST_CASE("record_change writes nothing for a workspace without webhooks") {
  Fixture f;
  // Workspace 3 subscribes to everything; workspace 2 has no webhook.
  REQUIRE(
      f.feed_and_record(webhook_create("w1", "Other workspace",
                                       {"contact.created", "contact.updated", "contact.deleted"},
                                       WorkspaceId(3)),
                        0)
          .ok());
  REQUIRE(f.feed_and_record(visit("a", 100, "Alice", "a@x"), 1).ok());
  REQUIRE(f.feed_and_record(delete_contact("b", id_at(1)), 2).ok());
  REQUIRE(f.changes.size() == 2);
  CHECK(outbox_of(f).empty());

  ViewBatch batch = f.store->begin_batch();
  Change change{Change::Kind::kCreated, kWs, 42, "Nobody", std::nullopt, id_at(9), 100, "", ""};
  CHECK_FALSE(record_into(batch, change));
  CHECK(batch.pending() == 0);
  // The same change in workspace 3 is queued.
  change.workspace_id = WorkspaceId(3);
  CHECK(record_into(batch, change));
  CHECK(batch.get(keys::outbox_key(id_at(9))).has_value());
}

TEST_CASE("record_change writes nothing once the workspace's last webhook is deleted") {
  Fixture f;
  f.feed_in_order(
      {webhook_create("w1", "All", {"contact.created", "contact.updated", "contact.deleted"}),
       webhook_delete("d1", id_at(0))});
  REQUIRE(f.feed_and_record(visit("a", 100, "Alice", "a@x"), 2).ok());
  REQUIRE(f.changes.size() == 1);
  CHECK(outbox_of(f).empty());
}

TEST_CASE("record_change with ChangeScope::kAll queues every change, with the subscribers it has") {
  Fixture f;
  ViewBatch batch = f.store->begin_batch();
  Change change{Change::Kind::kCreated, kWs, 42, "Nobody", std::nullopt, id_at(9), 100, "", ""};
  CHECK(record_into(batch, change, ChangeScope::kAll));
  REQUIRE(f.store->commit(batch).ok());
  auto outbox = outbox_of(f);
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].second["webhooks"] == json::array());
  CHECK(outbox[0].second["position"] == id_at(9));

  // A subscription to deletes only: an update is queued for the change topic with no subscriber,
  // a delete with it.
  REQUIRE(f.feed(webhook_create("w1", "Deleted", {"contact.deleted"}), 0).ok());
  ViewBatch second = f.store->begin_batch();
  change.kind = Change::Kind::kUpdated;
  change.position_id = id_at(10);
  CHECK(record_into(second, change, ChangeScope::kAll));
  CHECK_FALSE(record_into(second, change, ChangeScope::kSubscribed));
  change.kind = Change::Kind::kDeleted;
  change.position_id = id_at(11);
  CHECK(record_into(second, change, ChangeScope::kAll));
  REQUIRE(f.store->commit(second).ok());
  outbox = outbox_of(f);
  REQUIRE(outbox.size() == 3);
  CHECK(outbox[1].second["event"] == "contact.updated");
  CHECK(outbox[1].second["webhooks"] == json::array());
  CHECK(outbox[2].second["event"] == "contact.deleted");
  CHECK(outbox[2].second["webhooks"] == json{id_at(0)});
}

TEST_CASE("outbox entries are change events as schemas/change_event.json states") {
  Fixture f;
  REQUIRE(
      f.feed(webhook_create("w1", "All", {"contact.created", "contact.updated", "contact.deleted"}),
             0)
          .ok());
  ViewBatch batch = f.store->begin_batch();
  CHECK(record_into(
      batch, Change{Change::Kind::kCreated, kWs, 42, "Zoë", std::nullopt, id_at(9), 100, "", ""}));
  CHECK(record_into(batch,
                    Change{Change::Kind::kDeleted, WorkspaceId(3), 43, "A", std::string("a@x"),
                           id_at(10), 0, "", ""},
                    ChangeScope::kAll));
  REQUIRE(f.store->commit(batch).ok());
  auto entries = f.store->outbox(10);
  REQUIRE(entries.size() == 2);
  for (const auto& [key, value] : entries)
    CHECK_MESSAGE(schema_accepts("change_event.json", value), value);
  // The schema is not a rubber stamp.
  json wrong = json::parse(entries[0].change_event);
  wrong["event"] = "contact.merged";
  CHECK_FALSE(schema_accepts("change_event.json", wrong.dump()));
  wrong = json::parse(entries[0].change_event);
  wrong.erase("webhooks");
  CHECK_FALSE(schema_accepts("change_event.json", wrong.dump()));
}

TEST_CASE("webhook_event_of maps each change kind to its event") {
  CHECK(webhook_event_of(Change::Kind::kCreated) == kContactCreated);
  CHECK(webhook_event_of(Change::Kind::kUpdated) == kContactUpdated);
  CHECK(webhook_event_of(Change::Kind::kDeleted) == kContactDeleted);
}

TEST_CASE("encode_subscriptions and decode_subscriptions round-trip, 9 bytes per subscription") {
  const std::vector<Subscription> subscriptions = {
      {1, kContactCreated}, {kMaxSafeInteger, kAllWebhookEvents}, {id_at(7), kContactDeleted}};
  std::string bytes = encode_subscriptions(subscriptions);
  CHECK(bytes.size() == 27);
  auto decoded = decode_subscriptions(bytes);
  REQUIRE(decoded.size() == subscriptions.size());
  for (size_t i = 0; i < subscriptions.size(); ++i) {
    INFO("subscription ", i);
    CHECK(decoded[i].webhook_id == subscriptions[i].webhook_id);
    CHECK(decoded[i].events == subscriptions[i].events);
  }
  // Big-endian id, then the event bits.
  CHECK(encode_subscriptions({{0x0102, kContactUpdated}}) ==
        std::string("\0\0\0\0\0\0\x01\x02\x02", 9));
  CHECK(encode_subscriptions({}).empty());
  CHECK(decode_subscriptions("").empty());
}

TEST_CASE("a record in another partition than its key's is misplaced: not folded there") {
  Fixture f;
  const std::string key = "2";
  const Partition wrong((kPartition.value + 1) % kPartitions);
  const LogEntry entry{wrong, Offset(0), key, visit("a", 100, "Alice", "a@x").dump()};
  PreparedRecord prepared;
  prepare(entry, kPartitions, prepared);
  CHECK(prepared.command.ok());
  CHECK(prepared.misplaced);
  ViewBatch batch = f.store->begin_batch();
  // Not a dead letter (the writer forwards it), and nothing folded here, not even its
  // command_id: the forwarded copy is its first sight.
  CHECK(fold_into(batch, entry, kPartitions, f.changes).ok());
  CHECK(batch.pending() == 0);
  CHECK(f.changes.empty());
  // The same record where its key belongs is folded.
  prepare(LogEntry{kPartition, Offset(0), key, entry.value}, kPartitions, prepared);
  CHECK_FALSE(prepared.misplaced);
  // A misplaced record whose key is not its workspace is still a dead letter.
  CHECK(fold_into(batch, LogEntry{wrong, Offset(1), "3", entry.value}, kPartitions, f.changes)
            .code() == Code::kInvalid);
}

TEST_CASE("a big workspace's read index follows every commit at once") {
  Fixture f;
  const int n = static_cast<int>(kIndexedMinContacts) + 500;
  {
    ViewBatch batch = f.store->begin_batch();
    for (int i = 0; i < n; ++i) {
      json c = visit("v" + std::to_string(i), 1000 + i, "Person " + std::to_string(i),
                     "p" + std::to_string(i) + "@x.org");
      std::string key = "2";
      REQUIRE(
          fold_into(batch, LogEntry{kPartition, Offset(i), key, c.dump()}, kPartitions, f.changes)
              .ok());
    }
    REQUIRE(f.store->commit(batch).ok());
  }
  // A search builds and caches the list order.
  ContactPage hits = f.store->list(kWs, 1, 100, "person 12");
  CHECK(hits.total == 111);  // 12, 120-129, 1200-1299
  ContactPage first = f.store->list(kWs, 1, 50, "");
  REQUIRE(first.total == n);
  CHECK(first.contacts[0].name == "Person " + std::to_string(n - 1));
  ContactPage deep = f.store->list(kWs, 40, 50, "");
  REQUIRE(deep.contacts.size() == 50);
  CHECK(deep.contacts[0].name == "Person " + std::to_string(n - 1 - 39 * 50));

  // A visit moves Person 5 to the top; a delete removes Person 7: both show at once.
  const int64_t person7 = id_at(7);
  REQUIRE(f.feed(visit("again", 999999, "Person 5", "p5@x.org"), n).ok());
  REQUIRE(f.feed(delete_contact("del", person7), n + 1).ok());
  first = f.store->list(kWs, 1, 50, "");
  CHECK(first.total == n - 1);
  CHECK(first.contacts[0].name == "Person 5");
  hits = f.store->list(kWs, 1, 100, "person 7");
  for (const auto& c : hits.contacts) CHECK(c.id != person7);
  CHECK(hits.total == 110);
  // The last page ends with the oldest contact still there.
  ContactPage last = f.store->list(kWs, (n - 1 + 49) / 50, 50, "");
  REQUIRE_FALSE(last.contacts.empty());
  CHECK(last.contacts.back().name == "Person 0");
}

}  // namespace
}  // namespace contacts
