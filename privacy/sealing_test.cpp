// The cipher, the key store on RocksDB and the sealing of records: what a privacy review would
// ask of them (DESIGN.md section 10).
#include "privacy/sealing.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "core/command_codec.h"
#include "core/crypto.h"
#include "core/text.h"
#include "privacy/embedded_key_store.h"
#include "tests/temp_dir.h"

namespace contacts {
namespace {

using nlohmann::json;

const std::string kMaster(32, 'm');

TEST_CASE("cipher: a sealed value opens under its key and aad, and under nothing else") {
  const std::string key = random_bytes(kAeadKeyBytes);
  const std::string sealed = aead_seal(key, "aad", "Alice Martin");
  CHECK(sealed.size() == std::string("Alice Martin").size() + kAeadOverheadBytes);
  CHECK(sealed.find("Alice") == std::string::npos);
  std::string plain;
  REQUIRE(aead_open(key, "aad", sealed, plain));
  CHECK(plain == "Alice Martin");
  // Two seals of one value differ (a fresh nonce each).
  CHECK(aead_seal(key, "aad", "Alice Martin") != sealed);

  CHECK_FALSE(aead_open(random_bytes(kAeadKeyBytes), "aad", sealed, plain));  // wrong key
  CHECK(plain.empty());
  CHECK_FALSE(aead_open(key, "other aad", sealed, plain));
  for (size_t i = 0; i < sealed.size(); ++i) {  // any byte changed
    std::string tampered = sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    CHECK_FALSE(aead_open(key, "aad", tampered, plain));
  }
  for (size_t n = 0; n < sealed.size(); ++n)  // truncated anywhere
    CHECK_FALSE(aead_open(key, "aad", sealed.substr(0, n), plain));
  CHECK_FALSE(aead_open(key.substr(0, 16), "aad", sealed, plain));  // not an AES-256 key
}

TEST_CASE("master key: 32 bytes in base64, anything else refused with how to make one") {
  auto ok = parse_master_key(base64_encode(random_bytes(32), false, true));
  REQUIRE(ok.ok());
  CHECK(ok->size() == 32);
  for (std::string bad : {std::string(), std::string("not base64 !"), std::string("c2hvcnQ="),
                          std::string(64, 'A')}) {
    auto refused = parse_master_key(bad);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().message().find("openssl rand -base64 32") != std::string::npos);
  }
}

TEST_CASE("key store: keys survive a reopen, are destroyed for good, and a wrong master refuses") {
  TempDir dir("key_store_test");
  std::string index;
  DataKey alice;
  {
    auto store = EmbeddedKeyStore::open(dir.path(), kMaster);
    REQUIRE(store.ok());
    index = (*store)->index_key();
    CHECK(index.size() == 32);
    auto key = (*store)->current_key("alice");
    REQUIRE(key.ok());
    alice = *key;
    auto again = (*store)->current_key("alice");
    REQUIRE(again.ok());
    CHECK(again->id == alice.id);  // one key per subject while it lives
    REQUIRE((*store)->current_key("bob").ok());
  }
  {
    auto store = EmbeddedKeyStore::open(dir.path(), kMaster);
    REQUIRE(store.ok());
    CHECK((*store)->index_key() == index);
    auto found = (*store)->find("alice", alice.id, {});
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    CHECK(**found == alice.secret);
    auto second = (*store)->new_key("alice");  // a newer key, now the current one
    REQUIRE(second.ok());
    CHECK(second->id > alice.id);
    CHECK((*store)->current_key("alice")->id == second->id);
    REQUIRE((*store)->destroy("alice", {alice.id}).ok());
    auto gone = (*store)->find("alice", alice.id, {});
    REQUIRE(gone.ok());
    CHECK_FALSE(gone->has_value());
    auto kept = (*store)->find("alice", second->id, {});  // only the keys named go
    REQUIRE(kept.ok());
    CHECK(kept->has_value());
    REQUIRE((*store)->compact().ok());
  }
  {
    auto store = EmbeddedKeyStore::open(dir.path(), kMaster);
    REQUIRE(store.ok());
    auto gone = (*store)->find("alice", alice.id, {});
    REQUIRE(gone.ok());
    CHECK_FALSE(gone->has_value());  // destroyed durably
    auto bob = (*store)->current_key("bob");
    REQUIRE(bob.ok());
  }
  // A rotation: the new key with the previous one after it opens the store and wraps everything
  // again; then the new key alone opens it, and the old one no longer does.
  const std::string next(32, 'n');
  {
    auto store = EmbeddedKeyStore::open(dir.path(), next + kMaster);
    REQUIRE(store.ok());
    auto rewrapped = (*store)->rewrap();
    REQUIRE(rewrapped.ok());
    CHECK(*rewrapped >= 3);  // the index key, and bob's and alice's newer key
  }
  {
    auto store = EmbeddedKeyStore::open(dir.path(), next);
    REQUIRE(store.ok());
    CHECK((*store)->index_key() == index);
    auto bob = (*store)->current_key("bob");
    REQUIRE(bob.ok());
  }
  CHECK_FALSE(EmbeddedKeyStore::open(dir.path(), kMaster).ok());
  auto wrong = EmbeddedKeyStore::open(dir.path(), std::string(32, 'x'));
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().message().find("master key does not open the key store") !=
        std::string::npos);
}

Command decoded(const std::string& line) {
  auto c = decode_command(line);
  REQUIRE(c.ok());
  return *c;
}

TEST_CASE("sealing: a visit's participant and metadata leave the record; the fold opens them") {
  TempDir dir("sealing_test");
  auto store = EmbeddedKeyStore::open(dir.path(), kMaster);
  REQUIRE(store.ok());
  KeyStore& keys = **store;
  const std::string line =
      R"({"type":"room_join","command_id":"rj-1","workspace_id":2,"occurred_at":1711500000,)"
      R"("participant":{"name":"Zebulon Quaxley","email":" Zeb.Quax@Example.COM "},)"
      R"("room":{"id":5,"name":"standup"},"metadata":{"device":"web"},"future_field":1})";
  Command clear = decoded(line);
  auto sealed = seal_record(keys, clear, line);
  REQUIRE(sealed.ok());
  for (std::string_view secret : {"Zebulon", "Quaxley", "zeb.quax", "Zeb.Quax", "device"})
    CHECK(sealed->find(secret) == std::string::npos);
  json j = json::parse(*sealed);
  CHECK(j["future_field"] == 1);  // fields this version does not know stay
  CHECK(j["room"]["name"] == "standup");
  CHECK_FALSE(j.contains("metadata"));
  const std::string index = blind_index(keys.index_key(), WorkspaceId(2), "zeb.quax@example.com");
  CHECK(j["participant"]["email_index"] == hex_encode(index));
  CHECK(j["participant"]["subject"] == email_subject(index));

  Command c = decoded(*sealed);
  REQUIRE(c.sealed);
  CHECK(c.participant_name.empty());
  Unsealer unsealer(&keys);
  REQUIRE(unsealer.open(c, std::chrono::steady_clock::now()).ok());
  CHECK_FALSE(c.key_gone);
  CHECK(c.participant_name == "Zebulon Quaxley");
  CHECK(c.participant_email == std::optional<std::string>(" Zeb.Quax@Example.COM "));
  CHECK(c.metadata == std::optional<std::string>(R"({"device":"web"})"));
  CHECK(c.email_index == index);

  // Moved to another workspace, the sealed bytes do not open: a dead letter, not garbage.
  json moved = j;
  moved["workspace_id"] = 3;
  Command other = decoded(moved.dump());
  CHECK(unsealer.open(other, std::chrono::steady_clock::now()).code() == Code::kInvalid);

  // Erased: the record folds as one of an erased person, by its blind index alone.
  REQUIRE(keys.destroy(c.subject, {c.data_key_id}).ok());
  Command erased = decoded(*sealed);
  REQUIRE(unsealer.open(erased, std::chrono::steady_clock::now()).ok());
  CHECK(erased.key_gone);
  CHECK(erased.participant_name.empty());
  CHECK_FALSE(erased.participant_email.has_value());
  CHECK_FALSE(erased.metadata.has_value());
  CHECK(erased.email_index == index);

  // A producer that seals by itself gets the same checks as one in clear: a blank name is
  // refused (a dead letter), not folded.
  Command blank = decoded(*sealed);
  blank.participant_name = "   ";
  blank.participant_email.reset();
  blank.metadata.reset();
  blank.data_key_id = keys.new_key(blank.subject)->id;
  auto blank_key = keys.find(blank.subject, blank.data_key_id, {});
  REQUIRE(blank_key.ok());
  blank.sealed_data = base64_encode(
      aead_seal(**blank_key, sealed_aad(blank), encode_sealed_fields(blank)), false, true);
  CHECK(unsealer.open(blank, std::chrono::steady_clock::now()).code() == Code::kInvalid);

  // Without a key store, a sealed record is refused, saying why.
  Command unopened = decoded(*sealed);
  CHECK(Unsealer(nullptr).open(unopened, {}).code() == Code::kInvalid);
}

TEST_CASE("sealing: participants without email get a subject of their own; erase by email") {
  TempDir dir("sealing_anon_test");
  auto store = EmbeddedKeyStore::open(dir.path(), kMaster);
  REQUIRE(store.ok());
  const std::string line =
      R"({"type":"booking","command_id":"b-1","workspace_id":2,"occurred_at":1,)"
      R"("participant":{"name":"Nameless Guest","email":null},)"
      R"("booking_page":{"id":3,"title":"Intro","slug":"intro"}})";
  auto a = seal_record(**store, decoded(line), line);
  auto b = seal_record(**store, decoded(line), line);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  json ja = json::parse(*a), jb = json::parse(*b);
  CHECK(ja["participant"]["email_index"].is_null());
  CHECK(ja["participant"]["subject"].get<std::string>().rfind("anon-", 0) == 0);
  CHECK(ja["participant"]["subject"] != jb["participant"]["subject"]);
  CHECK(a->find("Nameless") == std::string::npos);

  const std::string erase =
      R"({"type":"contact_erase","command_id":"e-1","workspace_id":2,"occurred_at":2,)"
      R"("email":"ZEB@example.com"})";
  auto sealed = seal_record(**store, decoded(erase), erase);
  REQUIRE(sealed.ok());
  CHECK(sealed->find("zeb") == std::string::npos);
  CHECK(sealed->find("ZEB") == std::string::npos);
  Command c = decoded(*sealed);
  CHECK(c.email_index == blind_index((*store)->index_key(), WorkspaceId(2), "zeb@example.com"));
  CHECK_FALSE(c.erase_email.has_value());
}

TEST_CASE("decoding: a sealed participant's fields are checked alike by both decoders") {
  const std::string base =
      R"({"type":"room_join","command_id":"x","workspace_id":2,"occurred_at":1,"room":{"id":1,"name":"r"},)";
  const std::string good =
      base +
      R"("participant":{"sealed":"AAAA","subject":"anon-00000000000000000000000000000000","key_id":")" +
      std::string(32, 'a') + R"(","email_index":null}})";
  CHECK(decode_command(good).ok());
  CHECK(decode_command_reference(good).ok());
  for (std::string bad : {base + R"("participant":{"sealed":"AAAA","subject":"Anon","key_id":")" +
                              std::string(32, 'a') + R"("}})",
                          base + R"("participant":{"sealed":"AAAA","subject":"s","key_id":"abc"}})",
                          base + R"("participant":{"sealed":"AAAA","subject":"s","key_id":")" +
                              std::string(32, 'a') + R"(","email_index":"00"}})",
                          base + R"("participant":{"sealed":"AAAA","subject":"s","key_id":")" +
                              std::string(32, 'a') + R"(","name":"Alice"}})",
                          base + R"("participant":{"sealed":"AAAA","subject":"s","key_id":")" +
                              std::string(32, 'a') + R"("},"metadata":{"a":1}})"}) {
    CAPTURE(bad);
    CHECK_FALSE(decode_command(bad).ok());
    CHECK_FALSE(decode_command_reference(bad).ok());
  }
  for (
      std::string bad : std::vector<std::string>{
          R"({"type":"contact_erase","command_id":"e","workspace_id":2})",
          R"({"type":"contact_erase","command_id":"e","workspace_id":2,"contact_id":1,"email":"a@x"})",
          R"({"type":"contact_erase","command_id":"e","workspace_id":2,"email":"  "})"}) {
    CAPTURE(bad);
    CHECK_FALSE(decode_command(bad).ok());
  }
}

}  // namespace
}  // namespace contacts
