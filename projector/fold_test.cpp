// The pure fold, applied to a real ViewStore in a temporary directory and checked through
// the store's reads (DESIGN.md section 4).
#include "projector/fold.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/keys.h"

namespace contacts {
namespace {

using nlohmann::json;

constexpr int32_t kPartitions = 3;
// The partition the log puts workspace 2 in (the fold refuses records in another one).
const Partition kPartition = partition_for("2", kPartitions);
const WorkspaceId kWs(2);

// A ViewStore in a fresh directory, removed afterwards, and helpers that feed it log entries.
class Fixture {
 public:
  Fixture() {
    std::string pattern = (std::filesystem::temp_directory_path() / "fold_test_XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    dir_ = pattern;
    auto opened = ViewStore::open(dir_ + "/views", ViewStoreOptions{8 << 20, 4 << 20});
    REQUIRE_MESSAGE(opened.ok(), opened.status().message());
    store = std::move(*opened);
  }
  ~Fixture() {
    store.reset();
    std::filesystem::remove_all(dir_);
  }

  // Applies one record at `offset` in its own committed batch.
  Status feed(const json& command, int64_t offset) { return feed_text(command.dump(), offset, key_of(command)); }
  Status feed_text(const std::string& value, int64_t offset, const std::string& key) {
    ViewBatch batch = store->begin_batch();
    Status s = apply(batch, LogEntry{partition_for(key, kPartitions), Offset(offset), key, value}, kPartitions, changes);
    REQUIRE(store->commit(batch).ok());
    return s;
  }
  // Like the projector: applies one record, then queues its changes for the webhooks.
  Status feed_and_record(const json& command, int64_t offset) {
    ViewBatch batch = store->begin_batch();
    const size_t first_change = changes.size();
    const std::string key = key_of(command);
    Status s = apply(batch, LogEntry{partition_for(key, kPartitions), Offset(offset), key, command.dump()}, kPartitions,
                     changes);
    for (size_t i = first_change; i < changes.size(); ++i) record_change(batch, changes[i]);
    REQUIRE(store->commit(batch).ok());
    return s;
  }
  // Applies records at offsets 0, 1, 2... in order, each committed on its own.
  void feed_in_order(const std::vector<json>& commands) {
    for (size_t i = 0; i < commands.size(); ++i) REQUIRE(feed(commands[i], static_cast<int64_t>(i)).ok());
  }

  std::vector<Contact> contacts(WorkspaceId ws = kWs) const { return store->list(ws, 1, 100, "").contacts; }
  int64_t count(WorkspaceId ws = kWs) const { return store->list(ws, 1, 100, "").total; }
  Contact only_contact(WorkspaceId ws = kWs) const {
    auto all = contacts(ws);
    REQUIRE(all.size() == 1);
    return all[0];
  }
  std::vector<ContactEvent> events(const Contact& c) const { return store->timeline(c, 1, 100).events; }
  // Committed keys under `prefix`.
  std::vector<std::string> keys_under(const std::string& prefix) {
    std::vector<std::string> found;
    ViewBatch batch = store->begin_batch();
    batch.scan(prefix, [&](std::string_view key, std::string_view) {
      found.emplace_back(key);
      return true;
    });
    return found;
  }

  static std::string key_of(const json& command) { return std::to_string(command["workspace_id"].get<int64_t>()); }

  std::unique_ptr<ViewStore> store;
  std::vector<Change> changes;

 private:
  std::string dir_;
};

int64_t id_at(int64_t offset) { return id_from_position(kPartition, Offset(offset), kPartitions); }

json visit(const std::string& command_id, int64_t at, const std::string& name, const json& email,
           int64_t room = 5, WorkspaceId ws = kWs) {
  return {{"type", "room_join"}, {"command_id", command_id}, {"workspace_id", ws.value}, {"occurred_at", at},
          {"participant", {{"name", name}, {"email", email}}},
          {"room", {{"id", room}, {"name", "room-" + std::to_string(room)}, {"display_name", nullptr}}},
          {"metadata", {{"device", "web"}}}};
}

json booking(const std::string& command_id, int64_t at, const std::string& name, const json& email, int64_t page) {
  return {{"type", "booking"}, {"command_id", command_id}, {"workspace_id", kWs.value}, {"occurred_at", at},
          {"participant", {{"name", name}, {"email", email}}},
          {"booking_page", {{"id", page}, {"title", "Intro"}, {"slug", "intro"}}}};
}

json simple(const std::string& type, const std::string& command_id, json fields, WorkspaceId ws = kWs) {
  json c = {{"type", type}, {"command_id", command_id}, {"workspace_id", ws.value}, {"occurred_at", 1711600000}};
  c.update(fields);
  return c;
}

json delete_contact(const std::string& command_id, int64_t contact_id) {
  return simple("contact_delete", command_id, {{"contact_id", contact_id}, {"actor", {{"user_id", 7}}}});
}

TEST_CASE("a participant is found by the trimmed, lower-cased email") {
  Fixture f;
  f.feed_in_order({visit("a", 100, "Alice", " Alice@Example.COM "), visit("b", 200, "Alice M", "alice@example.com"),
                   visit("c", 300, "\xC3\x89lodie", "\xC3\x89LODIE@example.fr"),
                   visit("d", 400, "Elo", "\xC3\xA9lodie@example.fr")});
  auto all = f.contacts();
  REQUIRE(all.size() == 2);
  CHECK(f.count() == 2);
  CHECK(all[0].email == std::optional<std::string>("\xC3\xA9lodie@example.fr"));
  CHECK(all[0].event_count == 2);
  CHECK(all[1].email == std::optional<std::string>("alice@example.com"));
  CHECK(all[1].event_count == 2);
  CHECK(all[1].id == id_at(0));
}

TEST_CASE("a participant without an email creates a new contact every time") {
  Fixture f;
  json no_email = visit("b", 100, "Bob", nullptr);
  no_email["participant"].erase("email");
  f.feed_in_order({visit("a", 100, "Bob", nullptr), no_email, visit("c", 100, "Bob", "  "), visit("d", 100, "Bob", "")});
  auto all = f.contacts();
  REQUIRE(all.size() == 4);
  CHECK(f.count() == 4);
  for (const auto& c : all) {
    CHECK_FALSE(c.email.has_value());
    CHECK(c.event_count == 1);
  }
  CHECK(f.keys_under(keys::email_key(kWs, "")).empty());
}

TEST_CASE("contact and event ids are offset * partitions + partition + 1") {
  Fixture f;
  REQUIRE(f.feed(visit("a", 100, "Alice", "a@x"), 10).ok());
  REQUIRE(f.feed(visit("b", 200, "Alice", "a@x"), 11).ok());
  Contact c = f.only_contact();
  CHECK(c.id == 10 * kPartitions + kPartition.value + 1);
  auto events = f.events(c);
  REQUIRE(events.size() == 2);
  CHECK(events[0].id == id_at(11));
  CHECK(events[1].id == id_at(10));
  CHECK(events[0].contact_id == c.id);
}

TEST_CASE("name is the latest by occurred_at, a tie goes to the later offset, created_at is the earliest") {
  Fixture f;
  f.feed_in_order({visit("a", 200, "Second", "a@x"), visit("b", 100, "First", "a@x"), visit("c", 300, "Third", "a@x"),
                   visit("d", 250, "Late arrival", "a@x")});
  Contact c = f.only_contact();
  CHECK(c.name == "Third");
  CHECK(c.folded_name == "third");
  CHECK(c.created_at == 100);
  CHECK(c.last_seen_at == 300);
  CHECK(c.updated_at == 300);
  CHECK(c.event_count == 4);
  REQUIRE(f.feed(visit("e", 300, "Tie later", "a@x"), 4).ok());
  CHECK(f.only_contact().name == "Tie later");
  // The timeline is newest first: created_at desc, then id desc.
  std::vector<int64_t> times;
  for (const auto& e : f.events(f.only_contact())) times.push_back(e.created_at);
  CHECK(times == std::vector<int64_t>{300, 300, 250, 200, 100});
  CHECK(f.events(f.only_contact())[0].id == id_at(4));
}

TEST_CASE("commands out of time order give the same contact as in order") {
  const std::vector<json> commands = {visit("a", 100, "Early", "a@x"), visit("b", 200, "Middle", "a@x"),
                                      visit("c", 300, "Latest", "a@x")};
  auto fold = [](const std::vector<json>& order) {
    Fixture f;
    f.feed_in_order(order);
    return f.only_contact();
  };
  Contact in_order = fold(commands);
  // Same log position for the command that names the contact: the stored rows are identical.
  CHECK(encode(fold({commands[1], commands[0], commands[2]})) == encode(in_order));
  // Any order: the same served contact (name_position records which log position named it).
  std::vector<int> order = {0, 1, 2};
  do {
    Contact c = fold({commands[order[0]], commands[order[1]], commands[order[2]]});
    INFO(order[0], order[1], order[2]);
    c.name_position = in_order.name_position;
    CHECK(encode(c) == encode(in_order));
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST_CASE("a command_id seen before in the workspace changes nothing") {
  Fixture f;
  REQUIRE(f.feed(visit("same", 100, "Alice", "a@x"), 0).ok());
  f.changes.clear();
  REQUIRE(f.feed(visit("same", 200, "Other", "b@x"), 1).ok());
  CHECK(f.changes.empty());
  Contact c = f.only_contact();
  CHECK(c.name == "Alice");
  CHECK(c.event_count == 1);
  REQUIRE(f.feed(delete_contact("same", c.id), 2).ok());
  CHECK(f.count() == 1);
  // The same command_id in another workspace is another command.
  REQUIRE(f.feed(visit("same", 100, "Carol", "a@x", 5, WorkspaceId(3)), 3).ok());
  CHECK(f.count(WorkspaceId(3)) == 1);
}

TEST_CASE("contact_delete removes the contact, its events and indexes, frees the email and audits it") {
  Fixture f;
  f.feed_in_order({visit("a", 100, "Alice", "a@x", 5), booking("b", 200, "Alice", "a@x", 3),
                   visit("keep", 150, "Bob", "b@x", 5)});
  Contact alice = *f.store->contact(kWs, id_at(0));
  REQUIRE(f.count() == 2);
  f.changes.clear();
  REQUIRE(f.feed(delete_contact("del", alice.id), 3).ok());
  CHECK_FALSE(f.store->contact(kWs, alice.id).has_value());
  CHECK(f.count() == 1);
  CHECK(f.only_contact().name == "Bob");
  CHECK(f.events(alice).empty());
  CHECK(f.keys_under(keys::timeline_prefix(kWs, alice.id)).empty());
  CHECK(f.keys_under(keys::email_key(kWs, "a@x")).empty());

  auto audit = f.store->audit(kWs, 1, 10);
  REQUIRE(audit.total == 1);
  json entry = json::parse(audit.rows.at(0));
  CHECK(entry["id"] == id_at(3));
  CHECK(entry["action"] == "contact.delete");
  CHECK(entry["actor"] == json{{"user_id", 7}});
  CHECK(entry["target_type"] == "contact");
  CHECK(entry["target_id"] == alice.id);
  CHECK(entry["details"] == json{{"name", "Alice"}, {"email", "a@x"}});
  CHECK(entry["created_at"] == 1711600000);

  REQUIRE(f.changes.size() == 1);
  CHECK(f.changes[0].kind == Change::Kind::kDeleted);
  CHECK(f.changes[0].contact_id == alice.id);
  CHECK(f.changes[0].name == "Alice");
  CHECK(f.changes[0].email == std::optional<std::string>("a@x"));

  REQUIRE(f.feed(visit("again", 500, "Alice again", "A@X"), 4).ok());
  auto back = f.store->contact(kWs, id_at(4));
  REQUIRE(back.has_value());
  CHECK(back->event_count == 1);
  CHECK(back->created_at == 500);
  CHECK(f.count() == 2);
}

TEST_CASE("deleting a missing contact is a no-op") {
  Fixture f;
  REQUIRE(f.feed(visit("a", 100, "Alice", "a@x"), 0).ok());
  f.changes.clear();
  REQUIRE(f.feed(delete_contact("del", 999), 1).ok());
  // The id of a contact of workspace 2, deleted in workspace 3.
  REQUIRE(f.feed(simple("contact_delete", "x", {{"contact_id", id_at(0)}}, WorkspaceId(3)), 2).ok());
  CHECK(f.changes.empty());
  CHECK(f.count() == 1);
  CHECK(f.count(WorkspaceId(3)) == 0);  // the counter did not go negative
  CHECK(f.store->audit(WorkspaceId(3), 1, 10).total == 0);
}

TEST_CASE("room_delete nulls room_id only on that room's events, in that workspace") {
  Fixture f;
  f.feed_in_order({visit("a", 100, "Alice", "a@x", 5), visit("b", 200, "Alice", "a@x", 6),
                   visit("c", 300, "Bob", "b@x", 5), visit("d", 400, "Carol", "c@x", 5, WorkspaceId(3))});
  REQUIRE(f.feed(simple("room_delete", "r", {{"room_id", 5}}), 4).ok());
  Contact alice = *f.store->contact(kWs, id_at(0));
  auto events = f.events(alice);
  REQUIRE(events.size() == 2);
  CHECK(events[0].room_id == std::optional<int64_t>(6));
  CHECK_FALSE(events[1].room_id.has_value());
  CHECK(events[1].room_name == std::optional<std::string>("room-5"));  // names stay
  CHECK_FALSE(f.events(*f.store->contact(kWs, id_at(2)))[0].room_id.has_value());
  CHECK(f.events(f.only_contact(WorkspaceId(3)))[0].room_id == std::optional<int64_t>(5));
  CHECK(f.keys_under(keys::deleted_resource_key(keys::kRoomDeleted, kWs, 5)).size() == 1);
  // A join after the delete (a room id used again) keeps its room id.
  REQUIRE(f.feed(visit("e", 500, "Bob", "b@x", 5), 5).ok());
  CHECK(f.events(*f.store->contact(kWs, id_at(2)))[0].room_id == std::optional<int64_t>(5));
  CHECK_FALSE(f.events(*f.store->contact(kWs, id_at(2)))[1].room_id.has_value());
}

TEST_CASE("booking_page_delete nulls booking_page_id only on that page's events") {
  Fixture f;
  f.feed_in_order({booking("a", 100, "Alice", "a@x", 3), booking("b", 200, "Alice", "a@x", 4),
                   visit("c", 300, "Alice", "a@x", 3)});
  REQUIRE(f.feed(simple("booking_page_delete", "p", {{"booking_page_id", 3}}), 3).ok());
  auto events = f.events(f.only_contact());
  REQUIRE(events.size() == 3);
  CHECK(events[0].room_id == std::optional<int64_t>(3));  // a room with the same id is untouched
  CHECK(events[1].booking_page_id == std::optional<int64_t>(4));
  CHECK_FALSE(events[2].booking_page_id.has_value());
  CHECK(events[2].booking_page_title == std::optional<std::string>("Intro"));
}

TEST_CASE("member_upsert sets a role, a later upsert replaces it and member_remove clears it") {
  Fixture f;
  REQUIRE(f.feed(simple("member_upsert", "m1", {{"user_id", 7}, {"role", "owner"}}), 0).ok());
  REQUIRE(f.feed(simple("member_upsert", "m2", {{"user_id", 8}, {"role", "member"}}), 1).ok());
  CHECK(f.store->member_role(kWs, 7) == Role::kOwner);
  CHECK(f.store->member_role(kWs, 8) == Role::kMember);
  CHECK(f.store->member_role(WorkspaceId(3), 7) == Role::kNone);
  REQUIRE(f.feed(simple("member_upsert", "m3", {{"user_id", 7}, {"role", "admin"}}), 2).ok());
  CHECK(f.store->member_role(kWs, 7) == Role::kAdmin);
  REQUIRE(f.feed(simple("member_remove", "m4", {{"user_id", 7}}), 3).ok());
  CHECK(f.store->member_role(kWs, 7) == Role::kNone);
  CHECK(f.store->member_role(kWs, 8) == Role::kMember);
}

TEST_CASE("api_key_create and api_key_revoke keep the key row, its hash index and the audit log") {
  Fixture f;
  const std::string hash(64, 'c');
  REQUIRE(f.feed(simple("api_key_create", "k1", {{"name", "CI"}, {"role", "admin"}, {"key_hash", hash},
                                                  {"key_prefix", "lnx_abcdefgh"}}), 5).ok());
  auto key = f.store->api_key_by_hash(hash);
  REQUIRE(key.has_value());
  CHECK(key->id == id_at(5));
  CHECK(key->workspace_id == kWs);
  CHECK(key->role == Role::kAdmin);
  CHECK(key->is_active);
  REQUIRE(f.feed(simple("api_key_revoke", "k2", {{"key_id", id_at(5)}}), 6).ok());
  CHECK_FALSE(f.store->api_key_by_hash(hash)->is_active);
  CHECK(f.store->audit(kWs, 1, 10).total == 2);
  REQUIRE(f.feed(simple("api_key_revoke", "k3", {{"key_id", id_at(5)}}), 7).ok());  // already revoked
  CHECK(f.store->audit(kWs, 1, 10).total == 2);
}

TEST_CASE("a bad record returns kInvalid and changes nothing") {
  Fixture f;
  REQUIRE(f.feed(visit("a", 100, "Alice", "a@x"), 0).ok());
  json blank_name = visit("bad", 200, "  ", "a@x");
  for (const auto& [value, key] : std::vector<std::pair<std::string, std::string>>{
           {"{not json", "2"}, {blank_name.dump(), "2"}, {visit("bad", 200, "Eve", "a@x").dump(), "3"},
           {visit("bad", 200, "Eve", "a@x").dump(), ""}, {"[]", "2"}}) {
    INFO(value, " key=", key);
    ViewBatch batch = f.store->begin_batch();
    Status s = apply(batch, LogEntry{kPartition, Offset(1), key, value}, kPartitions, f.changes);
    CHECK(s.code() == Code::kInvalid);
    CHECK_FALSE(s.message().empty());
    CHECK(batch.pending() == 0);
  }
  CHECK(f.changes.size() == 1);
  // The refused command_id was not recorded: the same id, valid this time, is applied.
  REQUIRE(f.feed(visit("bad", 200, "Alice 2", "a@x"), 2).ok());
  CHECK(f.only_contact().name == "Alice 2");
}

TEST_CASE("changes: created for a new contact, updated for a known one, deleted on delete") {
  Fixture f;
  f.feed_in_order({visit("a", 100, "Alice", "a@x"), visit("b", 50, "Old name", "A@x"), delete_contact("c", id_at(0))});
  REQUIRE(f.changes.size() == 3);
  CHECK(f.changes[0].kind == Change::Kind::kCreated);
  CHECK(f.changes[0].workspace_id == kWs);
  CHECK(f.changes[0].contact_id == id_at(0));
  CHECK(f.changes[0].position_id == id_at(0));
  CHECK(f.changes[0].occurred_at == 100);
  CHECK(f.changes[1].kind == Change::Kind::kUpdated);
  CHECK(f.changes[1].name == "Alice");  // what the contact became, not the late command's name
  CHECK(f.changes[1].position_id == id_at(1));
  CHECK(f.changes[1].occurred_at == 50);
  CHECK(f.changes[2].kind == Change::Kind::kDeleted);
  CHECK(f.changes[2].email == std::optional<std::string>("a@x"));
  CHECK(f.changes[2].position_id == id_at(2));
}

TEST_CASE("a contact created and deleted inside one batch leaves nothing behind") {
  Fixture f;
  ViewBatch batch = f.store->begin_batch();
  const std::vector<json> commands = {visit("a", 100, "Alice", "a@x", 5), booking("b", 200, "Alice", "a@x", 3),
                                      delete_contact("c", id_at(0))};
  for (size_t i = 0; i < commands.size(); ++i) {
    LogEntry entry{kPartition, Offset(static_cast<int64_t>(i)), "2", commands[i].dump()};
    REQUIRE(apply(batch, entry, kPartitions, f.changes).ok());
  }
  REQUIRE(f.store->commit(batch).ok());
  CHECK(f.count() == 0);
  CHECK(f.contacts().empty());
  CHECK_FALSE(f.store->contact(kWs, id_at(0)).has_value());
  for (char tag : {keys::kContact, keys::kEmail, keys::kListOrder, keys::kTimeline}) {
    INFO("tag ", tag);
    CHECK(f.keys_under(std::string(1, tag)).empty());
  }
  CHECK(f.store->audit(kWs, 1, 10).total == 1);
  // And the email is free for the next batch.
  REQUIRE(f.feed(visit("d", 300, "Alice", "a@x"), 3).ok());
  CHECK(f.only_contact().id == id_at(3));
}

TEST_CASE("ViewBatch::scan merges pending writes with committed keys and hides pending deletes") {
  Fixture f;
  ViewBatch setup = f.store->begin_batch();
  for (const char* key : {"x1", "x3", "x5", "x8", "y0"}) setup.put(key, std::string("old-") + key);
  REQUIRE(f.store->commit(setup).ok());

  ViewBatch batch = f.store->begin_batch();
  batch.put("x2", "new-x2");
  batch.put("x3", "new-x3");
  batch.del("x5");
  batch.put("x6", "new-x6");
  batch.del("x7");  // never existed
  batch.put("x9", "tmp");
  batch.del("x9");  // written then deleted in the same batch
  batch.put("w9", "outside");
  std::vector<std::pair<std::string, std::string>> seen;
  batch.scan("x", [&](std::string_view key, std::string_view value) {
    seen.emplace_back(key, value);
    return true;
  });
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"x1", "old-x1"}, {"x2", "new-x2"}, {"x3", "new-x3"}, {"x6", "new-x6"}, {"x8", "old-x8"}};
  CHECK(seen == expected);
  CHECK(batch.get("x5") == std::nullopt);
  CHECK(batch.get("x3") == std::optional<std::string>("new-x3"));
  CHECK(batch.get("x1") == std::optional<std::string>("old-x1"));

  std::vector<std::string> first_two;
  batch.scan("x", [&](std::string_view key, std::string_view) {
    first_two.emplace_back(key);
    return first_two.size() < 2;
  });
  CHECK(first_two == std::vector<std::string>{"x1", "x2"});

  REQUIRE(f.store->commit(batch).ok());
  std::vector<std::string> committed = f.keys_under("x");
  CHECK(committed == std::vector<std::string>{"x1", "x2", "x3", "x6", "x8"});
}

// ---------------------------------------------------------------------------------------------
// Webhooks: the subscription rows, and the outbox record_change writes for the dispatcher.

const std::string kSecret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const std::string kHookUrl = "https://hooks.example.com/in";

json webhook_create(const std::string& command_id, const std::string& name, const json& events,
                    WorkspaceId ws = kWs) {
  return simple("webhook_create", command_id,
                {{"name", name}, {"url", kHookUrl}, {"events", events}, {"secret", kSecret}, {"actor", {{"user_id", 7}}}},
                ws);
}

json webhook_delete(const std::string& command_id, int64_t webhook_id, WorkspaceId ws = kWs) {
  return simple("webhook_delete", command_id, {{"webhook_id", webhook_id}, {"actor", {{"user_id", 7}}}}, ws);
}

// The committed subscriptions of a workspace, as (webhook id, event bits).
std::vector<std::pair<int64_t, int>> subscriptions_of(Fixture& f, WorkspaceId ws = kWs) {
  std::vector<std::pair<int64_t, int>> out;
  auto bytes = f.store->begin_batch().get(keys::webhook_set_key(ws));
  for (const auto& s : decode_subscriptions(bytes.value_or(""))) out.emplace_back(s.webhook_id, s.events);
  return out;
}

// The committed outbox entries, oldest position first.
std::vector<std::pair<std::string, json>> outbox_of(Fixture& f) {
  std::vector<std::pair<std::string, json>> out;
  for (const auto& [key, value] : f.store->outbox(100)) out.emplace_back(key, json::parse(value));
  return out;
}

TEST_CASE("webhook_create stores the row with its secret, subscribes the workspace and audits webhook.create") {
  Fixture f;
  REQUIRE(f.feed(webhook_create("w1", "CRM sync", {"contact.deleted", "contact.created"}), 4).ok());
  auto row_text = f.store->webhook_json(kWs, id_at(4));
  REQUIRE(row_text.has_value());
  json row = json::parse(*row_text);
  CHECK(row["id"] == id_at(4));
  CHECK(row["name"] == "CRM sync");
  CHECK(row["url"] == kHookUrl);
  CHECK(row["events"] == json{"contact.created", "contact.deleted"});  // in the canonical order
  CHECK(row["is_active"] == true);
  CHECK(row["created_at"] == 1711600000);
  CHECK(row["secret"] == kSecret);
  CHECK(f.store->webhooks_json(kWs).size() == 1);
  CHECK(f.store->webhooks_json(WorkspaceId(3)).empty());
  CHECK_FALSE(f.store->webhook_json(WorkspaceId(3), id_at(4)).has_value());

  CHECK(subscriptions_of(f) == std::vector<std::pair<int64_t, int>>{{id_at(4), kContactCreated | kContactDeleted}});
  CHECK(subscriptions_of(f, WorkspaceId(3)).empty());

  auto audit = f.store->audit(kWs, 1, 10);
  REQUIRE(audit.total == 1);
  json entry = json::parse(audit.rows.at(0));
  CHECK(entry["id"] == id_at(4));
  CHECK(entry["action"] == "webhook.create");
  CHECK(entry["actor"] == json{{"user_id", 7}});
  CHECK(entry["target_type"] == "webhook");
  CHECK(entry["target_id"] == id_at(4));
  CHECK(entry["details"] ==
        json{{"name", "CRM sync"}, {"url", kHookUrl}, {"events", {"contact.created", "contact.deleted"}}});
  CHECK(entry["created_at"] == 1711600000);
  CHECK(audit.rows.at(0).find(kSecret) == std::string::npos);  // the audit log never shows the secret

  // A second webhook adds a subscription next to the first.
  REQUIRE(f.feed(webhook_create("w2", "All", {"contact.created", "contact.updated", "contact.deleted"}), 5).ok());
  CHECK(subscriptions_of(f) == std::vector<std::pair<int64_t, int>>{{id_at(4), kContactCreated | kContactDeleted},
                                                                    {id_at(5), kAllWebhookEvents}});
  CHECK(f.store->webhooks_json(kWs).size() == 2);
  CHECK(f.store->audit(kWs, 1, 10).total == 2);
}

TEST_CASE("webhook_delete removes the row and its subscription and audits webhook.delete") {
  Fixture f;
  f.feed_in_order({webhook_create("w1", "First", {"contact.created"}), webhook_create("w2", "Second", {"contact.updated"})});
  REQUIRE(f.feed(webhook_delete("d1", id_at(0)), 2).ok());
  CHECK_FALSE(f.store->webhook_json(kWs, id_at(0)).has_value());
  CHECK(f.store->webhook_json(kWs, id_at(1)).has_value());
  CHECK(f.store->webhooks_json(kWs).size() == 1);
  CHECK(subscriptions_of(f) == std::vector<std::pair<int64_t, int>>{{id_at(1), kContactUpdated}});

  auto audit = f.store->audit(kWs, 1, 10);
  REQUIRE(audit.total == 3);
  json entry = json::parse(audit.rows.at(0));  // newest first
  CHECK(entry["id"] == id_at(2));
  CHECK(entry["action"] == "webhook.delete");
  CHECK(entry["actor"] == json{{"user_id", 7}});
  CHECK(entry["target_type"] == "webhook");
  CHECK(entry["target_id"] == id_at(0));
  CHECK(entry["details"] == json{{"name", "First"}, {"url", kHookUrl}});

  // The last one gone, the workspace has no subscription set at all.
  REQUIRE(f.feed(webhook_delete("d2", id_at(1)), 3).ok());
  CHECK(f.store->webhooks_json(kWs).empty());
  CHECK(subscriptions_of(f).empty());
  CHECK(f.keys_under(keys::webhook_set_key(kWs)).empty());
  CHECK(f.store->audit(kWs, 1, 10).total == 4);
}

TEST_CASE("deleting a missing webhook is a no-op: no row change, no subscription change, no audit") {
  Fixture f;
  REQUIRE(f.feed(webhook_create("w1", "Kept", {"contact.deleted"}), 0).ok());
  REQUIRE(f.feed(webhook_delete("d1", 999), 1).ok());
  // The id of a webhook of workspace 2, deleted in workspace 3.
  REQUIRE(f.feed(webhook_delete("d2", id_at(0), WorkspaceId(3)), 2).ok());
  CHECK(f.store->webhook_json(kWs, id_at(0)).has_value());
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
  CHECK(outbox[0].first == keys::outbox_key(id_at(3)));
  const json& entry = outbox[0].second;
  CHECK(entry["position"] == id_at(3));
  CHECK(entry["event"] == "contact.deleted");
  CHECK(entry["workspace_id"] == kWs.value);
  CHECK(entry["occurred_at"] == 1711600000);
  CHECK(entry["data"] == json{{"id", id_at(1)}, {"name", "Alice Martin"}, {"email", "alice@example.com"}});
  CHECK(entry["webhooks"] == json{id_at(0)});
}

TEST_CASE("record_change lists exactly the subscriptions that want the event") {
  Fixture f;
  f.feed_in_order({webhook_create("w1", "Created and updated", {"contact.created", "contact.updated"}),
                   webhook_create("w2", "Created", {"contact.created"}),
                   webhook_create("w3", "Deleted", {"contact.deleted"})});
  const int64_t both = id_at(0), created = id_at(1);
  REQUIRE(f.feed_and_record(visit("a", 100, "Alice", "a@x"), 3).ok());
  REQUIRE(f.feed_and_record(visit("b", 200, "Alice", "a@x"), 4).ok());
  REQUIRE(f.feed_and_record(visit("c", 300, "Bob", nullptr), 5).ok());
  auto outbox = outbox_of(f);
  REQUIRE(outbox.size() == 3);
  CHECK(outbox[0].first == keys::outbox_key(id_at(3)));
  CHECK(outbox[0].second["event"] == "contact.created");
  CHECK(outbox[0].second["webhooks"] == json{both, created});
  CHECK(outbox[1].first == keys::outbox_key(id_at(4)));
  CHECK(outbox[1].second["event"] == "contact.updated");
  CHECK(outbox[1].second["webhooks"] == json{both});
  CHECK(outbox[1].second["data"] == json{{"id", id_at(3)}, {"name", "Alice"}, {"email", "a@x"}});
  CHECK(outbox[2].first == keys::outbox_key(id_at(5)));
  CHECK(outbox[2].second["event"] == "contact.created");
  CHECK(outbox[2].second["data"] == json{{"id", id_at(5)}, {"name", "Bob"}, {"email", nullptr}});
}

TEST_CASE("record_change writes nothing for a workspace without webhooks") {
  Fixture f;
  // Workspace 3 subscribes to everything; workspace 2 has no webhook.
  REQUIRE(f.feed_and_record(webhook_create("w1", "Other workspace", {"contact.created", "contact.updated",
                                                                      "contact.deleted"}, WorkspaceId(3)), 0).ok());
  REQUIRE(f.feed_and_record(visit("a", 100, "Alice", "a@x"), 1).ok());
  REQUIRE(f.feed_and_record(delete_contact("b", id_at(1)), 2).ok());
  REQUIRE(f.changes.size() == 2);
  CHECK(outbox_of(f).empty());

  ViewBatch batch = f.store->begin_batch();
  Change change{Change::Kind::kCreated, kWs, 42, "Nobody", std::nullopt, id_at(9), 100};
  CHECK_FALSE(record_change(batch, change));
  CHECK(batch.pending() == 0);
  // The same change in workspace 3 is queued.
  change.workspace_id = WorkspaceId(3);
  CHECK(record_change(batch, change));
  CHECK(batch.get(keys::outbox_key(id_at(9))).has_value());
}

TEST_CASE("record_change writes nothing once the workspace's last webhook is deleted") {
  Fixture f;
  f.feed_in_order({webhook_create("w1", "All", {"contact.created", "contact.updated", "contact.deleted"}),
                   webhook_delete("d1", id_at(0))});
  REQUIRE(f.feed_and_record(visit("a", 100, "Alice", "a@x"), 2).ok());
  REQUIRE(f.changes.size() == 1);
  CHECK(outbox_of(f).empty());
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
  CHECK(encode_subscriptions({{0x0102, kContactUpdated}}) == std::string("\0\0\0\0\0\0\x01\x02\x02", 9));
  CHECK(encode_subscriptions({}).empty());
  CHECK(decode_subscriptions("").empty());
}

}  // namespace
}  // namespace contacts

namespace contacts {
namespace {

TEST_CASE("a record in another partition than its key's is refused and changes nothing") {
  Fixture f;
  const std::string key = "2";
  const Partition wrong((kPartition.value + 1) % kPartitions);
  ViewBatch batch = f.store->begin_batch();
  Status s = apply(batch, LogEntry{wrong, Offset(0), key, visit("a", 100, "Alice", "a@x").dump()}, kPartitions, f.changes);
  CHECK(s.code() == Code::kInvalid);
  CHECK(s.message().find("belongs in partition " + std::to_string(kPartition.value)) != std::string::npos);
  CHECK(batch.pending() == 0);
  CHECK(f.changes.empty());
}

}  // namespace
}  // namespace contacts

namespace contacts {
namespace {

TEST_CASE("a big workspace's cached list order follows every commit at once") {
  Fixture f;
  const int n = static_cast<int>(kCachedListMinContacts) + 500;
  {
    ViewBatch batch = f.store->begin_batch();
    for (int i = 0; i < n; ++i) {
      json c = visit("v" + std::to_string(i), 1000 + i, "Person " + std::to_string(i),
                     "p" + std::to_string(i) + "@x.org");
      std::string key = "2";
      REQUIRE(apply(batch, LogEntry{kPartition, Offset(i), key, c.dump()}, kPartitions, f.changes).ok());
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
