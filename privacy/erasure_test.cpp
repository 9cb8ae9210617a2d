// Erasure through the projector (DESIGN.md section 10): a delete destroys the person's keys before
// its batch commits, a crash in between completes on restart, and a replay after erasures gives
// the same views, byte for byte, folding the erased person's records by their blind index.
#include <doctest/doctest.h>

#include <map>

#include "bus/embedded_log.h"
#include "core/text.h"
#include "ingest/intake.h"
#include "privacy/embedded_key_store.h"
#include "projector/fold_fixture.h"
#include "projector/projector.h"

namespace contacts {
namespace {

using fold_testing::booking;
using fold_testing::delete_contact;
using fold_testing::visit;

// Destroys keys, then fails as a process killed before its commit would: nothing committed.
class CrashAfterDestroy final : public KeyStore {
 public:
  explicit CrashAfterDestroy(KeyStore& keys) : keys_(keys) {}
  const std::string& index_key() const override { return keys_.index_key(); }
  Result<DataKey> current_key(std::string_view s) override { return keys_.current_key(s); }
  Result<DataKey> new_key(std::string_view s) override { return keys_.new_key(s); }
  Result<std::optional<std::string>> find(std::string_view s, std::string_view id,
                                          std::chrono::steady_clock::time_point t) override {
    return keys_.find(s, id, t);
  }
  Status destroy(std::string_view subject, const std::vector<std::string>& ids) override {
    if (auto s = keys_.destroy(subject, ids); !s.ok()) return s;
    return {Code::kUnavailable, "killed after destroying the keys"};
  }
  Status compact() override { return keys_.compact(); }
  Result<size_t> rewrap() override { return keys_.rewrap(); }

 private:
  KeyStore& keys_;
};

struct ErasureFixture {
  TempDir dir{"erasure_test"};
  std::unique_ptr<EmbeddedLog> log;
  std::unique_ptr<EmbeddedKeyStore> keys;
  ErasureFixture() {
    auto opened = EmbeddedLog::open(dir.path() + "/log", fold_testing::kPartitions);
    REQUIRE(opened.ok());
    log = std::move(*opened);
    auto store = EmbeddedKeyStore::open(dir.path() + "/keys", std::string(32, 'k'));
    REQUIRE(store.ok());
    keys = std::move(*store);
  }
  std::unique_ptr<ViewStore> views(const std::string& name) {
    auto v = ViewStore::open(dir.path() + "/" + name, ViewStoreOptions{8 << 20, 4 << 20});
    REQUIRE(v.ok());
    return std::move(*v);
  }
  // Sealed as ingest seals them.
  void produce(const std::vector<nlohmann::json>& commands) {
    std::string body;
    for (const auto& c : commands) body += c.dump() + "\n";
    Intake intake = intake_ndjson(body, 1711000000, keys.get());
    REQUIRE(intake.error_count == 0);
    REQUIRE(intake.unavailable.ok());
    REQUIRE(log->append(intake.records).ok());
  }
  void append_clear(const nlohmann::json& command) {
    REQUIRE(log->append({{std::to_string(command["workspace_id"].get<int64_t>()), command.dump()}})
                .ok());
  }
};

// Every committed key and value of a view store.
std::map<std::string, std::string> dump(ViewStore& store) {
  std::map<std::string, std::string> out;
  ViewBatch batch = store.begin_batch();
  batch.scan("", [&](std::string_view key, std::string_view value) {
    out.emplace(key, value);
    return true;
  });
  return out;
}

bool contains_bytes(const std::map<std::string, std::string>& dumped, std::string_view needle) {
  for (const auto& [k, v] : dumped)
    if (k.find(needle) != std::string::npos || v.find(needle) != std::string::npos) return true;
  return false;
}

TEST_CASE("erasure: a delete destroys the keys; a replay after it gives the same views") {
  ErasureFixture f;
  f.produce({visit("a1", 100, "Zebulon Quaxley", "zeb@quax.example"),
             booking("a2", 300, "Zebulon Q", " ZEB@quax.example ", 3),
             visit("b1", 150, "Bob Keeps", "bob@example.com"),
             visit("n1", 120, "Nobody Known", nullptr)});
  // A producer writing to the log in clear: the same person as the sealed records.
  f.append_clear(visit("a3", 200, "Zebulon Clear", "zeb@quax.example"));
  auto live = f.views("live");
  {
    Projector projector(*f.log, *live);
    projector.set_keys(f.keys.get(), true);
    REQUIRE(projector.catch_up().ok());
    CHECK(projector.stats().clear_visits.load() == 1);
  }
  auto contacts = live->list(fold_testing::kWs, 1, 10, "").contacts;
  REQUIRE(contacts.size() == 3);
  const Contact zeb = contacts[0];  // last seen at 300
  CHECK(zeb.name == "Zebulon Q");
  CHECK(zeb.event_count == 3);
  CHECK(zeb.email == std::optional<std::string>("zeb@quax.example"));
  const std::string subject = zeb.subject;
  CHECK(subject ==
        email_subject(blind_index(f.keys->index_key(), fold_testing::kWs, "zeb@quax.example")));

  // Killed after the keys went, before the delete committed: the restart completes the erasure.
  f.append_clear(delete_contact("del", zeb.id));
  {
    CrashAfterDestroy crashing(*f.keys);
    Projector projector(*f.log, *live);
    projector.set_keys(&crashing, true);
    CHECK_FALSE(projector.catch_up().ok());
  }
  CHECK(live->contact(fold_testing::kWs, zeb.id).has_value());  // the delete did not commit
  {
    Projector projector(*f.log, *live);
    projector.set_keys(f.keys.get(), true);
    REQUIRE(projector.catch_up().ok());
  }
  CHECK_FALSE(live->contact(fold_testing::kWs, zeb.id).has_value());
  CHECK(live->list(fold_testing::kWs, 1, 10, "").total == 2);
  auto live_dump = dump(*live);
  for (std::string_view secret : {"Zebulon", "zeb@quax", "Quaxley"})
    CHECK_FALSE(contains_bytes(live_dump, secret));
  // Every key of the subject is gone, and the audit entry names nobody.
  auto audit = live->audit(fold_testing::kWs, 1, 10);
  REQUIRE(audit.total == 1);
  CHECK(encode(audit.entries[0]).find("Zebulon") == std::string::npos);

  // The person comes back: a new contact, under a new key.
  f.produce({visit("a4", 400, "Zebulon Again", "zeb@quax.example")});
  {
    Projector projector(*f.log, *live);
    projector.set_keys(f.keys.get(), true);
    REQUIRE(projector.catch_up().ok());
  }
  auto back = live->list(fold_testing::kWs, 1, 10, "").contacts;
  REQUIRE(back.size() == 3);
  CHECK(back[0].name == "Zebulon Again");
  CHECK(back[0].event_count == 1);

  // A replay folds the erased person's records without their key, by the blind index, and the
  // same delete removes what they built: the views are the live ones, byte for byte.
  auto replayed = f.views("replayed");
  {
    Projector projector(*f.log, *replayed);
    projector.set_keys(f.keys.get(), false);
    REQUIRE(projector.catch_up().ok());
    CHECK(projector.stats().erased_records.load() == 2);
  }
  CHECK(dump(*replayed) == dump(*live));
}

TEST_CASE("erasure: contact_erase by email erases the contact its blind index names") {
  ErasureFixture f;
  f.produce({visit("a1", 100, "Erin Erase", "erin@example.com"),
             visit("b1", 100, "Bob Stays", "bob@example.com")});
  f.produce({{{"type", "contact_erase"},
              {"command_id", "e1"},
              {"workspace_id", fold_testing::kWs.value},
              {"occurred_at", 200},
              {"email", " ERIN@example.com"}}});
  auto live = f.views("live");
  Projector projector(*f.log, *live);
  projector.set_keys(f.keys.get(), true);
  REQUIRE(projector.catch_up().ok());
  auto left = live->list(fold_testing::kWs, 1, 10, "").contacts;
  REQUIRE(left.size() == 1);
  CHECK(left[0].name == "Bob Stays");
  CHECK(projector.stats().erasures.load() == 1);
  auto audit = live->audit(fold_testing::kWs, 1, 10);
  REQUIRE(audit.total == 1);
  CHECK(audit.entries[0].action == "contact.erase");
  CHECK_FALSE(contains_bytes(dump(*live), "erin"));
}

TEST_CASE("erasure: a person who comes back in the request that erased them keeps the new data") {
  ErasureFixture f;
  // One request: a visit, the delete of the contact it makes, and the person back again. The
  // record after the delete is sealed under a new key, which the delete does not destroy.
  f.produce({visit("a1", 100, "Early Visit", "back@example.com"),
             delete_contact("del", fold_testing::id_at(0)),
             visit("a2", 200, "Came Back", "back@example.com")});
  auto live = f.views("live");
  Projector projector(*f.log, *live);
  projector.set_keys(f.keys.get(), true);
  REQUIRE(projector.catch_up().ok());
  auto contacts = live->list(fold_testing::kWs, 1, 10, "").contacts;
  REQUIRE(contacts.size() == 1);
  CHECK(contacts[0].id == fold_testing::id_at(2));
  CHECK(contacts[0].name == "Came Back");
  CHECK(contacts[0].email == std::optional<std::string>("back@example.com"));
  CHECK(contacts[0].event_count == 1);
  CHECK(projector.stats().erased_records.load() == 0);
}

TEST_CASE(
    "erasure: a record sealed under a key its delete destroys folds alike live and replayed") {
  ErasureFixture f;
  f.produce({visit("a1", 100, "Early Visit", "late@example.com")});
  auto live = f.views("live");
  {
    Projector projector(*f.log, *live);
    projector.set_keys(f.keys.get(), true);
    REQUIRE(projector.catch_up().ok());
  }
  // Two requests before the fold gets to the delete: the second is sealed under the key the
  // delete is about to destroy (it is still the person's current one).
  f.produce({delete_contact("del", fold_testing::id_at(0))});
  f.produce({visit("a2", 200, "Late Visit", "late@example.com")});
  {
    Projector projector(*f.log, *live);
    projector.set_keys(f.keys.get(), true);
    REQUIRE(projector.catch_up().ok());
  }
  auto contacts = live->list(fold_testing::kWs, 1, 10, "").contacts;
  REQUIRE(contacts.size() == 1);
  CHECK(contacts[0].name.empty());  // the erased key's record: no name, no email
  CHECK_FALSE(contacts[0].email.has_value());
  CHECK_FALSE(contains_bytes(dump(*live), "Late Visit"));
  auto replayed = f.views("replayed");
  {
    Projector projector(*f.log, *replayed);
    projector.set_keys(f.keys.get(), false);
    REQUIRE(projector.catch_up().ok());
  }
  CHECK(dump(*replayed) == dump(*live));
}

}  // namespace
}  // namespace contacts
