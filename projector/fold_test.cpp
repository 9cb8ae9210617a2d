// The pure fold, applied to a real ViewStore in a temporary directory and checked through
// the store's reads (DESIGN.md section 4).
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "projector/fold_fixture.h"

namespace contacts {
namespace {

using namespace fold_testing;

TEST_CASE("a participant is found by the trimmed, lower-cased email") {
  Fixture f;
  f.feed_in_order({visit("a", 100, "Alice", " Alice@Example.COM "),
                   visit("b", 200, "Alice M", "alice@example.com"),
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
  f.feed_in_order({visit("a", 100, "Bob", nullptr), no_email, visit("c", 100, "Bob", "  "),
                   visit("d", 100, "Bob", "")});
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

TEST_CASE(
    "name is the latest by occurred_at, a tie goes to the later offset, created_at is the "
    "earliest") {
  Fixture f;
  f.feed_in_order({visit("a", 200, "Second", "a@x"), visit("b", 100, "First", "a@x"),
                   visit("c", 300, "Third", "a@x"), visit("d", 250, "Late arrival", "a@x")});
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
  const std::vector<json> commands = {visit("a", 100, "Early", "a@x"),
                                      visit("b", 200, "Middle", "a@x"),
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

TEST_CASE(
    "contact_delete removes the contact, its events and indexes, frees the email and audits it") {
  Fixture f;
  f.feed_in_order({visit("a", 100, "Alice", "a@x", 5), booking("b", 200, "Alice", "a@x", 3),
                   visit("keep", 150, "Bob", "b@x", 5)});
  Contact alice = *f.store->contact(kWs, id_at(0));
  REQUIRE(f.count() == 2);
  // Contacts are indexed by the blind index of their email (privacy/sealing.h).
  const std::string alice_index =
      keys::email_key(kWs, blind_index(unkeyed_index_key(), kWs, "a@x"));
  REQUIRE(f.keys_under(alice_index).size() == 1);
  CHECK(alice.subject == email_subject(blind_index(unkeyed_index_key(), kWs, "a@x")));
  f.changes.clear();
  REQUIRE(f.feed(delete_contact("del", alice.id), 3).ok());
  CHECK_FALSE(f.store->contact(kWs, alice.id).has_value());
  CHECK(f.count() == 1);
  CHECK(f.only_contact().name == "Bob");
  CHECK(f.events(alice).empty());
  CHECK(f.keys_under(keys::timeline_prefix(kWs, alice.id)).empty());
  CHECK(f.keys_under(alice_index).empty());

  auto audit = f.store->audit(kWs, 1, 10);
  REQUIRE(audit.total == 1);
  json entry = json::parse(encode(audit.entries.at(0)));
  CHECK(entry["id"] == id_at(3));
  CHECK(entry["action"] == "contact.delete");
  CHECK(entry["actor"] == json{{"user_id", 7}});
  CHECK(entry["target_type"] == "contact");
  CHECK(entry["target_id"] == alice.id);
  // Who, what, which id, when: no name or email of the person (DESIGN.md section 10).
  CHECK(entry["details"] == json::object());
  CHECK(entry["created_at"] == 1711600000);

  REQUIRE(f.changes.size() == 1);
  CHECK(f.changes[0].kind == Change::Kind::kDeleted);
  CHECK(f.changes[0].contact_id == alice.id);
  CHECK(f.changes[0].subject == alice.subject);
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
  REQUIRE(
      f.feed(simple("contact_delete", "x", {{"contact_id", id_at(0)}}, WorkspaceId(3)), 2).ok());
  CHECK(f.changes.empty());
  CHECK(f.count() == 1);
  CHECK(f.count(WorkspaceId(3)) == 0);  // the counter did not go negative
  CHECK(f.store->audit(WorkspaceId(3), 1, 10).total == 0);
}

TEST_CASE("room_delete nulls room_id only on that room's events, in that workspace") {
  Fixture f;
  f.feed_in_order({visit("a", 100, "Alice", "a@x", 5), visit("b", 200, "Alice", "a@x", 6),
                   visit("c", 300, "Bob", "b@x", 5),
                   visit("d", 400, "Carol", "c@x", 5, WorkspaceId(3))});
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

TEST_CASE("room_delete nulls room_id in a workspace that deleted hundreds of rooms") {
  // More deleted rooms than a timeline read scans at once (views/view_store.cpp): it looks
  // up the page's rooms one by one.
  Fixture f;
  f.feed_in_order({visit("a", 100, "Alice", "a@x", 5), visit("b", 200, "Alice", "a@x", 6),
                   visit("c", 300, "Alice", "a@x", 1100)});
  std::vector<json> deletes;
  for (int room = 1000; room < 1300; ++room)
    deletes.push_back(simple("room_delete", "r" + std::to_string(room), {{"room_id", room}}));
  deletes.push_back(simple("room_delete", "r5", {{"room_id", 5}}));
  for (size_t i = 0; i < deletes.size(); ++i)
    REQUIRE(f.feed(deletes[i], static_cast<int64_t>(3 + i)).ok());
  CHECK(f.keys_under(keys::deleted_resource_key(keys::kRoomDeleted, kWs, 0).substr(0, 9)).size() ==
        301);
  auto events = f.events(f.only_contact());
  REQUIRE(events.size() == 3);
  CHECK_FALSE(events[0].room_id.has_value());  // 1100
  CHECK(events[1].room_id == std::optional<int64_t>(6));
  CHECK_FALSE(events[2].room_id.has_value());  // 5
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
  REQUIRE(f.feed(simple("api_key_create", "k1",
                        {{"name", "CI"},
                         {"role", "admin"},
                         {"key_hash", hash},
                         {"key_prefix", "lnx_abcdefgh"}}),
                 5)
              .ok());
  auto key = f.store->api_key_by_hash(hash);
  REQUIRE(key.has_value());
  CHECK(key->id == id_at(5));
  CHECK(key->workspace_id == kWs);
  CHECK(key->role == Role::kAdmin);
  CHECK(key->is_active);
  REQUIRE(f.feed(simple("api_key_revoke", "k2", {{"key_id", id_at(5)}}), 6).ok());
  CHECK_FALSE(f.store->api_key_by_hash(hash)->is_active);
  CHECK(f.store->audit(kWs, 1, 10).total == 2);
  REQUIRE(
      f.feed(simple("api_key_revoke", "k3", {{"key_id", id_at(5)}}), 7).ok());  // already revoked
  CHECK(f.store->audit(kWs, 1, 10).total == 2);
}

json key_create(const std::string& command_id, char hash, const std::string& role,
                const json& actor) {
  return simple("api_key_create", command_id,
                {{"name", command_id},
                 {"role", role},
                 {"key_hash", std::string(64, hash)},
                 {"key_prefix", "lnx_abcdefgh"},
                 {"actor", actor}});
}

TEST_CASE(
    "a key follows its creator's role: removed with them in one batch, lowered with a demotion, "
    "never raised again") {
  Fixture f;
  const std::vector<json> log = {
      simple("member_upsert", "m1", {{"user_id", 8}, {"role", "admin"}}),
      simple("member_upsert", "m2", {{"user_id", 9}, {"role", "owner"}}),
      key_create("k1", 'a', "admin", {{"user_id", 8}}),
      key_create("k2", 'b', "member", {{"api_key_id", id_at(2)}}),
      key_create("k3", 'c', "owner", {{"user_id", 9}}),
      simple("member_remove", "m3", {{"user_id", 8}}),
      simple("member_upsert", "m4", {{"user_id", 9}, {"role", "admin"}}),
      simple("member_upsert", "m5", {{"user_id", 9}, {"role", "owner"}})};
  ViewBatch batch = f.store->begin_batch();  // one batch: each record reads the ones before
  for (size_t i = 0; i < log.size(); ++i)
    REQUIRE(fold_into(batch,
                      LogEntry{kPartition, Offset(static_cast<int64_t>(i)), "2", log[i].dump()},
                      kPartitions, f.changes)
                .ok());
  REQUIRE(f.store->commit(batch).ok());
  auto by_hash = [&](char hash) { return *f.store->api_key_by_hash(std::string(64, hash)); };
  CHECK_FALSE(by_hash('a').is_active);
  CHECK_FALSE(by_hash('b').is_active);
  CHECK(by_hash('c').is_active);
  CHECK(by_hash('c').role == Role::kAdmin);
}

TEST_CASE("a bad record returns kInvalid and changes nothing") {
  Fixture f;
  REQUIRE(f.feed(visit("a", 100, "Alice", "a@x"), 0).ok());
  json blank_name = visit("bad", 200, "  ", "a@x");
  for (const auto& [value, key] : std::vector<std::pair<std::string, std::string>>{
           {"{not json", "2"},
           {blank_name.dump(), "2"},
           {visit("bad", 200, "Eve", "a@x").dump(), "3"},
           {visit("bad", 200, "Eve", "a@x").dump(), ""},
           {"[]", "2"}}) {
    INFO(value, " key=", key);
    ViewBatch batch = f.store->begin_batch();
    Status s =
        fold_into(batch, LogEntry{kPartition, Offset(1), key, value}, kPartitions, f.changes);
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
  f.feed_in_order({visit("a", 100, "Alice", "a@x"), visit("b", 50, "Old name", "A@x"),
                   delete_contact("c", id_at(0))});
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
  const std::vector<json> commands = {visit("a", 100, "Alice", "a@x", 5),
                                      booking("b", 200, "Alice", "a@x", 3),
                                      delete_contact("c", id_at(0))};
  for (size_t i = 0; i < commands.size(); ++i) {
    LogEntry entry{kPartition, Offset(static_cast<int64_t>(i)), "2", commands[i].dump()};
    REQUIRE(fold_into(batch, entry, kPartitions, f.changes).ok());
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
  batch.put_new("x9", "tmp");
  batch.del("x9");  // born and gone in the same batch
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

  // Keys that become pending after a scan are in order in the next one, as is a key put
  // again after it was born and gone.
  batch.put("x4", "new-x4");
  batch.put("w1", "outside");
  batch.put("x0", "new-x0");
  batch.put("x9", "again");
  std::vector<std::string> after;
  batch.scan("x", [&](std::string_view key, std::string_view) {
    after.emplace_back(key);
    return true;
  });
  CHECK(after == std::vector<std::string>{"x0", "x1", "x2", "x3", "x4", "x6", "x8", "x9"});

  REQUIRE(f.store->commit(batch).ok());
  std::vector<std::string> committed = f.keys_under("x");
  CHECK(committed == std::vector<std::string>{"x0", "x1", "x2", "x3", "x4", "x6", "x8", "x9"});
}

TEST_CASE(
    "ViewBatch::scan sees the pending keys of hot tags too, and the batch being committed behind "
    "it") {
  // Contact rows are not kept in order in a batch (no fold scans them): a scan walks them all.
  Fixture f;
  const std::string c = std::string(1, keys::kContact);
  ViewBatch setup = f.store->begin_batch();
  for (const char* id : {"1", "4"}) setup.put(c + id, "old");
  REQUIRE(f.store->commit(setup).ok());

  ViewBatch behind = f.store->begin_batch();
  behind.put(c + "2", "behind");
  behind.del(c + "4");
  ViewBatch batch = f.store->begin_batch();
  batch.read_behind(&behind);
  batch.put(c + "3", "new");
  batch.put(c + "2", "newer");
  batch.put("d1", "outside");
  std::vector<std::pair<std::string, std::string>> seen;
  batch.scan(c, [&](std::string_view key, std::string_view value) {
    seen.emplace_back(key, value);
    return true;
  });
  const std::vector<std::pair<std::string, std::string>> expected = {
      {c + "1", "old"}, {c + "2", "newer"}, {c + "3", "new"}};
  CHECK(seen == expected);
}

TEST_CASE("one log of old and newer command formats folds as the old format alone") {
  // A newer producer adds fields at every level and says which version it writes; this
  // version keeps them in the log and folds the commands as if they were not there.
  auto newer = [](nlohmann::json command) {
    command["version"] = 1;
    command["source"] = "mobile-app";
    command["participant"]["avatar_url"] = "https://example.com/a.png";
    command["room"]["capacity"] = 12;
    return command;
  };
  const std::vector<nlohmann::json> old_format = {visit("a", 100, "Alice", "a@x"),
                                                  visit("b", 200, "Bob", "b@x"),
                                                  visit("c", 300, "Alice M", "a@x", 6)};
  Fixture old_only;
  old_only.feed_in_order(old_format);
  Fixture mixed;
  mixed.feed_in_order({old_format[0], newer(old_format[1]), newer(old_format[2])});
  REQUIRE(mixed.contacts().size() == 2);
  CHECK(mixed.keys_under("") == old_only.keys_under(""));
  for (size_t i = 0; i < 2; ++i) {
    const Contact a = old_only.contacts()[i];
    const Contact b = mixed.contacts()[i];
    CHECK(std::tie(a.id, a.name, a.email, a.event_count, a.last_seen_at) ==
          std::tie(b.id, b.name, b.email, b.event_count, b.last_seen_at));
    CHECK(old_only.events(a).size() == mixed.events(b).size());
  }
  // A near miss of a known field (a typo to ingest) is ignored by the fold like any unknown
  // field: whether a record applies does not depend on the fields a build knows.
  Fixture typo;
  nlohmann::json misspelled = old_format[0];
  misspelled["participant"]["emial"] = "other@x";
  misspelled["metadta"] = 1;
  REQUIRE(typo.feed(misspelled, 0).ok());
  CHECK(typo.only_contact().email == "a@x");
  CHECK(typo.only_contact().event_count == 1);
  // A version this build does not know is refused, not folded as version 1.
  Fixture later;
  nlohmann::json v2 = old_format[0];
  v2["version"] = 2;
  CHECK(later.feed(v2, 0).code() == Code::kInvalid);
  CHECK(later.contacts().empty());
}

}  // namespace
}  // namespace contacts
