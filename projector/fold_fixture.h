// Test support for the fold's unit tests: a ViewStore in a temporary directory that is fed log
// entries, and builders of commands. Included by projector/*_test.cpp only.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "projector/outbox.h"
#include "projector/record.h"
#include "tests/temp_dir.h"
#include "views/batch_writer.h"
#include "views/keys.h"
#include "views/view_store.h"

namespace contacts::fold_testing {

using nlohmann::json;

inline constexpr int32_t kPartitions = 3;
// The partition the log puts workspace 2 in (the fold refuses records in another one).
inline const Partition kPartition = partition_for("2", kPartitions);
inline const WorkspaceId kWs(2);

// A ViewStore in a fresh directory, removed afterwards, and helpers that feed it log entries.
class Fixture {
 public:
  Fixture() {
    auto opened = ViewStore::open(dir_.path() + "/views", ViewStoreOptions{8 << 20, 4 << 20});
    REQUIRE_MESSAGE(opened.ok(), opened.status().message());
    store = std::move(*opened);
  }

  // Applies one record at `offset` in its own committed batch.
  Status feed(const json& command, int64_t offset) {
    return feed_text(command.dump(), offset, key_of(command));
  }
  Status feed_text(const std::string& value, int64_t offset, const std::string& key) {
    ViewBatch batch = store->begin_batch();
    BatchViewWriter writer(batch);
    Status s =
        fold_record(writer, LogEntry{partition_for(key, kPartitions), Offset(offset), key, value},
                    kPartitions, changes);
    REQUIRE(store->commit(batch).ok());
    return s;
  }
  // Like the projector: applies one record, then queues its changes for the webhooks.
  Status feed_and_record(const json& command, int64_t offset) {
    ViewBatch batch = store->begin_batch();
    BatchViewWriter writer(batch);
    const size_t first_change = changes.size();
    const std::string key = key_of(command);
    Status s = fold_record(
        writer, LogEntry{partition_for(key, kPartitions), Offset(offset), key, command.dump()},
        kPartitions, changes);
    for (size_t i = first_change; i < changes.size(); ++i) record_change(writer, changes[i]);
    REQUIRE(store->commit(batch).ok());
    return s;
  }
  // Applies records at offsets 0, 1, 2... in order, each committed on its own.
  void feed_in_order(const std::vector<json>& commands) {
    for (size_t i = 0; i < commands.size(); ++i)
      REQUIRE(feed(commands[i], static_cast<int64_t>(i)).ok());
  }

  std::vector<Contact> contacts(WorkspaceId ws = kWs) const {
    return store->list(ws, 1, 100, "").contacts;
  }
  int64_t count(WorkspaceId ws = kWs) const { return store->list(ws, 1, 100, "").total; }
  Contact only_contact(WorkspaceId ws = kWs) const {
    auto all = contacts(ws);
    REQUIRE(all.size() == 1);
    return all[0];
  }
  std::vector<ContactEvent> events(const Contact& c) const {
    return store->timeline(c, 1, 100).events;
  }
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

  static std::string key_of(const json& command) {
    return std::to_string(command["workspace_id"].get<int64_t>());
  }

  // Declared first: destroyed after the store that lives in it.
 private:
  TempDir dir_{"fold_test"};

 public:
  std::unique_ptr<ViewStore> store;
  std::vector<Change> changes;
};

// One record folded into `batch`, as the projector folds it.
inline Status fold_into(ViewBatch& batch, const LogEntry& entry, int32_t partitions,
                        std::vector<Change>& changes) {
  BatchViewWriter writer(batch);
  return fold_record(writer, entry, partitions, changes);
}
// A change queued in the outbox of `batch`.
inline bool record_into(ViewBatch& batch, const Change& change,
                        ChangeScope scope = ChangeScope::kSubscribed) {
  BatchViewWriter writer(batch);
  return record_change(writer, change, scope);
}

inline int64_t id_at(int64_t offset) {
  return id_from_position(kPartition, Offset(offset), kPartitions);
}

inline json visit(const std::string& command_id, int64_t at, const std::string& name,
                  const json& email, int64_t room = 5, WorkspaceId ws = kWs) {
  return {
      {"type", "room_join"},
      {"command_id", command_id},
      {"workspace_id", ws.value},
      {"occurred_at", at},
      {"participant", {{"name", name}, {"email", email}}},
      {"room", {{"id", room}, {"name", "room-" + std::to_string(room)}, {"display_name", nullptr}}},
      {"metadata", {{"device", "web"}}}};
}

inline json booking(const std::string& command_id, int64_t at, const std::string& name,
                    const json& email, int64_t page) {
  return {{"type", "booking"},
          {"command_id", command_id},
          {"workspace_id", kWs.value},
          {"occurred_at", at},
          {"participant", {{"name", name}, {"email", email}}},
          {"booking_page", {{"id", page}, {"title", "Intro"}, {"slug", "intro"}}}};
}

inline json simple(const std::string& type, const std::string& command_id, json fields,
                   WorkspaceId ws = kWs) {
  json c = {{"type", type},
            {"command_id", command_id},
            {"workspace_id", ws.value},
            {"occurred_at", 1711600000}};
  c.update(fields);
  return c;
}

inline json delete_contact(const std::string& command_id, int64_t contact_id) {
  return simple("contact_delete", command_id,
                {{"contact_id", contact_id}, {"actor", {{"user_id", 7}}}});
}

}  // namespace contacts::fold_testing
