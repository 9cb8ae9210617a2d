// The fold's domain rules (DESIGN.md section 4) against MemoryViews: decoded commands in, typed
// rows out, with no log record, RocksDB or batch in between.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "privacy/sealing.h"
#include "projector/fold.h"
#include "views/memory_views.h"

namespace contacts {
namespace {

const WorkspaceId kWs(2);

Command visit(int64_t at, std::string name, std::optional<std::string> email) {
  Command c;
  c.type = CommandType::kRoomJoin;
  c.command_id = "v" + std::to_string(at);
  c.workspace_id = kWs;
  c.occurred_at = at;
  c.participant_name = std::move(name);
  c.participant_email = std::move(email);
  c.room_id = 5;
  c.room_name = "standup";
  return c;
}

Command contact_delete(int64_t contact_id) {
  Command c;
  c.type = CommandType::kContactDelete;
  c.command_id = "del";
  c.workspace_id = kWs;
  c.occurred_at = 500;
  c.contact_id = contact_id;
  c.actor.user_id = 7;
  return c;
}

// Folds `command` as if it were at the position whose id is `position_id`.
std::vector<Change> fold(MemoryViews& views, const Command& command, int64_t position_id) {
  CommandFacts facts;
  derive_facts(command, position_id, unkeyed_index_key(), facts);
  std::vector<Change> changes;
  apply(views, command, facts, changes);
  return changes;
}

TEST_CASE(
    "fold rules: a visit creates a contact whose id is its position's, indexed by normalized "
    "email") {
  MemoryViews views;
  auto changes = fold(views, visit(100, "Alice", "  Alice@Example.COM "), 11);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == Change::Kind::kCreated);
  auto alice = views.contact(kWs, ContactId(11));
  REQUIRE(alice.has_value());
  CHECK(alice->email == std::optional<std::string>("alice@example.com"));
  CHECK(alice->event_count == 1);
  CHECK(views.contact_by_email(
            email_key(kWs, blind_index(unkeyed_index_key(), kWs, "alice@example.com"))) ==
        std::optional<ContactId>(ContactId(11)));
  CHECK(views.contact_counts[kWs.value] == 1);
  CHECK(views.events.size() == 1);
  CHECK(views.list_order.count({kWs.value, 100, 11}) == 1);
}

TEST_CASE(
    "fold rules: a later visit by the same email updates the contact; an earlier one keeps the "
    "later name") {
  MemoryViews views;
  fold(views, visit(100, "Alice", "a@x"), 11);
  auto late = fold(views, visit(200, "Alice M", "A@X"), 12);
  auto early = fold(views, visit(50, "Old", "a@x"), 13);
  REQUIRE(late.size() == 1);
  CHECK(late[0].kind == Change::Kind::kUpdated);
  auto alice = *views.contact(kWs, ContactId(11));
  CHECK(alice.name == "Alice M");
  CHECK(alice.event_count == 3);
  CHECK(alice.created_at == 50);
  CHECK(alice.last_seen_at == 200);
  CHECK(views.contacts.size() == 1);
  CHECK(views.contact_counts[kWs.value] == 1);
  // One list position, at the latest visit.
  CHECK(views.list_order.size() == 1);
  CHECK(views.list_order.count({kWs.value, 200, 11}) == 1);
}

TEST_CASE("fold rules: participants without an email are new contacts each time") {
  MemoryViews views;
  fold(views, visit(100, "Anon", std::nullopt), 11);
  fold(views, visit(100, "Anon", "   "), 12);
  CHECK(views.contacts.size() == 2);
  CHECK(views.emails.empty());
}

TEST_CASE(
    "fold rules: a delete removes the contact, its events and its email, audits it, and emits "
    "deleted") {
  MemoryViews views;
  fold(views, visit(100, "Alice", "a@x"), 11);
  fold(views, visit(200, "Alice", "a@x"), 12);
  fold(views, visit(100, "Bob", "b@x"), 13);
  auto changes = fold(views, contact_delete(11), 14);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == Change::Kind::kDeleted);
  CHECK(changes[0].email == std::optional<std::string>("a@x"));
  CHECK_FALSE(views.contact(kWs, ContactId(11)).has_value());
  CHECK_FALSE(views.contact_by_email(email_key(kWs, blind_index(unkeyed_index_key(), kWs, "a@x")))
                  .has_value());
  CHECK(views.events.size() == 1);  // Bob's
  CHECK(views.contact_counts[kWs.value] == 1);
  REQUIRE(views.audit.size() == 1);
  const AuditEntry& entry = views.audit.begin()->second;
  CHECK(entry.action == "contact.delete");
  CHECK(entry.target_id == 11);
  CHECK(entry.actor.user_id == 7);
  // Deleting it again is a no-op.
  CHECK(fold(views, contact_delete(11), 15).empty());
  CHECK(views.audit.size() == 1);
}

TEST_CASE("fold rules: webhooks subscribe their workspace and unsubscribe when deleted") {
  MemoryViews views;
  Command create;
  create.type = CommandType::kWebhookCreate;
  create.workspace_id = kWs;
  create.webhook_name = "CRM";
  create.webhook_url = "https://example.com/in";
  create.webhook_events = kContactDeleted;
  create.webhook_secret = "whsec_x";
  fold(views, create, 21);
  REQUIRE(views.subscriptions(kWs).size() == 1);
  CHECK(views.subscriptions(kWs)[0].webhook_id == 21);
  CHECK(views.webhook(kWs, 21)->secret == "whsec_x");
  Command remove;
  remove.type = CommandType::kWebhookDelete;
  remove.workspace_id = kWs;
  remove.webhook_id = 21;
  fold(views, remove, 22);
  CHECK(views.subscriptions(kWs).empty());
  CHECK(views.subscription_sets.empty());
  CHECK_FALSE(views.webhook(kWs, 21).has_value());
  CHECK(views.audit.size() == 2);
}

// The audit entry the fold wrote at `position`.
const AuditEntry& audit_at(const MemoryViews& views, int64_t position) {
  for (const auto& [key, entry] : views.audit)
    if (entry.id == position) return entry;
  FAIL("no audit entry at ", position);
  return views.audit.begin()->second;
}

TEST_CASE(
    "fold rules: a webhook is paused and resumed, keeps its subscription, and each is audited") {
  MemoryViews views;
  Command create;
  create.type = CommandType::kWebhookCreate;
  create.workspace_id = kWs;
  create.webhook_name = "CRM";
  create.webhook_url = "https://example.com/in";
  create.webhook_events = kContactCreated;
  create.webhook_secret = "whsec_x";
  fold(views, create, 21);
  Command pause;
  pause.type = CommandType::kWebhookUpdate;
  pause.workspace_id = kWs;
  pause.webhook_id = 21;
  pause.webhook_active = false;
  pause.actor.user_id = 7;
  fold(views, pause, 22);
  CHECK_FALSE(views.webhook(kWs, 21)->is_active);
  REQUIRE(views.subscriptions(kWs).size() == 1);  // its changes still make deliveries
  CHECK(audit_at(views, 22).action == "webhook.pause");
  CHECK(audit_at(views, 22).target_id == 21);
  CHECK(audit_at(views, 22).actor.user_id == 7);
  Command resume = pause;
  resume.webhook_active = true;
  fold(views, resume, 23);
  CHECK(views.webhook(kWs, 21)->is_active);
  CHECK(audit_at(views, 23).action == "webhook.resume");
  // A webhook that does not exist: nothing changes, nothing is audited.
  resume.webhook_id = 99;
  fold(views, resume, 24);
  CHECK_FALSE(views.webhook(kWs, 99).has_value());
  CHECK(views.audit.size() == 3);
}

TEST_CASE(
    "fold rules: a rotated secret keeps the old one until occurred_at + overlap, and the audit "
    "entry holds neither") {
  MemoryViews views;
  Command create;
  create.type = CommandType::kWebhookCreate;
  create.workspace_id = kWs;
  create.webhook_name = "CRM";
  create.webhook_url = "https://example.com/in";
  create.webhook_events = kContactCreated;
  create.webhook_secret = "whsec_first";
  fold(views, create, 21);
  Command rotate;
  rotate.type = CommandType::kWebhookRotateSecret;
  rotate.workspace_id = kWs;
  rotate.webhook_id = 21;
  rotate.occurred_at = 1000;
  rotate.webhook_overlap_seconds = 3600;
  rotate.webhook_secret = "whsec_second";
  fold(views, rotate, 22);
  auto hook = views.webhook(kWs, 21);
  CHECK(hook->secret == "whsec_second");
  CHECK(hook->previous_secret == "whsec_first");
  CHECK(hook->previous_secret_expires_at == 4600);
  const AuditEntry& entry = audit_at(views, 22);
  CHECK(entry.action == "webhook.rotate_secret");
  CHECK(entry.details.dump().find("whsec_") == std::string::npos);
  CHECK(entry.details["overlap_seconds"] == 3600);
  // A second rotation keeps only the secret it replaces.
  rotate.occurred_at = 2000;
  rotate.webhook_overlap_seconds = 0;
  rotate.webhook_secret = "whsec_third";
  fold(views, rotate, 23);
  hook = views.webhook(kWs, 21);
  CHECK(hook->secret == "whsec_third");
  CHECK(hook->previous_secret == "whsec_second");
  CHECK(hook->previous_secret_expires_at == 2000);
}

TEST_CASE(
    "fold rules: a test event and a redelivery are audited with their message id and change "
    "nothing else") {
  MemoryViews views;
  Command create;
  create.type = CommandType::kWebhookCreate;
  create.workspace_id = kWs;
  create.webhook_name = "CRM";
  create.webhook_url = "https://example.com/in";
  create.webhook_events = kContactCreated;
  create.webhook_secret = "whsec_x";
  fold(views, create, 21);
  const std::string before = encode(*views.webhook(kWs, 21));
  Command test;
  test.type = CommandType::kWebhookTest;
  test.workspace_id = kWs;
  test.webhook_id = 21;
  CHECK(fold(views, test, 22).empty());  // no change: the API records the delivery itself
  CHECK(audit_at(views, 22).action == "webhook.test");
  CHECK(audit_at(views, 22).details["message_id"] == "msg_22");
  Command redeliver = test;
  redeliver.type = CommandType::kWebhookRedeliver;
  redeliver.webhook_message_id = "msg_5";
  CHECK(fold(views, redeliver, 23).empty());
  CHECK(audit_at(views, 23).action == "webhook.redeliver");
  CHECK(audit_at(views, 23).details["message_id"] == "msg_5");
  CHECK(encode(*views.webhook(kWs, 21)) == before);
}

TEST_CASE("fold rules: an API key's hash binds once; revoking deactivates it") {
  MemoryViews views;
  Command create;
  create.type = CommandType::kApiKeyCreate;
  create.workspace_id = kWs;
  create.key_name = "ci";
  create.key_hash = "abc";
  create.role = Role::kAdmin;
  fold(views, create, 31);
  fold(views, create, 32);  // the same hash again: first writer wins
  CHECK(views.api_keys.size() == 1);
  CHECK(views.api_key_hashes.at("abc").key_id == 31);
  Command revoke;
  revoke.type = CommandType::kApiKeyRevoke;
  revoke.workspace_id = kWs;
  revoke.key_id = 31;
  fold(views, revoke, 33);
  CHECK_FALSE(views.api_key(kWs, 31)->is_active);
  CHECK(views.audit.size() == 2);
}

// API keys and their creators (docs/decisions.md, issue 20).
Command member_upsert(int64_t user, Role role) {
  Command c;
  c.type = CommandType::kMemberUpsert;
  c.workspace_id = kWs;
  c.user_id = user;
  c.role = role;
  return c;
}

Command member_remove(int64_t user) {
  Command c = member_upsert(user, Role::kNone);
  c.type = CommandType::kMemberRemove;
  return c;
}

Command key_create(std::string hash, Role role, Actor actor) {
  Command c;
  c.type = CommandType::kApiKeyCreate;
  c.workspace_id = kWs;
  c.key_name = "k-" + hash;
  c.key_hash = std::move(hash);
  c.role = role;
  c.actor = actor;
  return c;
}

Command key_revoke(int64_t key_id, Actor actor) {
  Command c;
  c.type = CommandType::kApiKeyRevoke;
  c.workspace_id = kWs;
  c.key_id = key_id;
  c.actor = actor;
  return c;
}

const Actor kOwnerUser{1, 0}, kAdminUser{2, 0};

void owner_and_admin(MemoryViews& views) {
  fold(views, member_upsert(1, Role::kOwner), 1);
  fold(views, member_upsert(2, Role::kAdmin), 2);
}

TEST_CASE(
    "fold rules: removing a member deactivates the keys they created and the keys those keys "
    "created, and no one else's") {
  MemoryViews views;
  owner_and_admin(views);
  fold(views, key_create("a", Role::kAdmin, kAdminUser), 10);
  fold(views, key_create("b", Role::kMember, Actor{0, 10}), 11);  // made by the admin's key
  fold(views, key_create("c", Role::kAdmin, kOwnerUser), 12);
  fold(views, key_create("d", Role::kOwner, Actor{}), 13);  // the operator's
  CHECK(views.api_keys_created_by(kWs, kAdminUser) == std::vector<int64_t>{10});
  CHECK(views.api_keys_created_by(kWs, Actor{0, 10}) == std::vector<int64_t>{11});
  fold(views, member_remove(2), 20);
  CHECK_FALSE(views.api_key(kWs, 10)->is_active);
  CHECK_FALSE(views.api_key(kWs, 11)->is_active);
  CHECK(views.api_key(kWs, 12)->is_active);
  CHECK(views.api_key(kWs, 13)->is_active);
  // Back in the workspace, the admin's old keys stay off.
  fold(views, member_upsert(2, Role::kAdmin), 21);
  CHECK_FALSE(views.api_key(kWs, 10)->is_active);
  CHECK_FALSE(views.api_key(kWs, 11)->is_active);
}

TEST_CASE(
    "fold rules: a demotion lowers the member's keys to the new role, down the chain; a later "
    "promotion does not raise them") {
  MemoryViews views;
  owner_and_admin(views);
  fold(views, member_upsert(3, Role::kOwner), 3);
  fold(views, key_create("o", Role::kOwner, Actor{3, 0}), 10);
  fold(views, key_create("a", Role::kAdmin, Actor{0, 10}), 11);
  fold(views, key_create("m", Role::kMember, Actor{3, 0}), 12);
  fold(views, member_upsert(3, Role::kAdmin), 20);
  CHECK(views.api_key(kWs, 10)->role == Role::kAdmin);
  CHECK(views.api_key(kWs, 11)->role == Role::kAdmin);
  CHECK(views.api_key(kWs, 12)->role == Role::kMember);
  fold(views, member_upsert(3, Role::kMember), 21);
  CHECK(views.api_key(kWs, 10)->role == Role::kMember);
  CHECK(views.api_key(kWs, 11)->role == Role::kMember);
  fold(views, member_upsert(3, Role::kOwner), 22);
  CHECK(views.api_key(kWs, 10)->role == Role::kMember);
  CHECK(views.api_key(kWs, 11)->role == Role::kMember);
  for (int64_t id : {10, 11, 12}) CHECK(views.api_key(kWs, id)->is_active);
}

TEST_CASE(
    "fold rules: only an owner revokes an owner key; a revoke takes the keys the revoked key "
    "made with it") {
  MemoryViews views;
  owner_and_admin(views);
  fold(views, key_create("o", Role::kOwner, kOwnerUser), 10);
  fold(views, key_create("a", Role::kAdmin, kOwnerUser), 11);
  fold(views, key_create("b", Role::kMember, Actor{0, 11}), 12);
  fold(views, key_revoke(10, kAdminUser), 20);    // an admin user
  fold(views, key_revoke(10, Actor{0, 11}), 21);  // an admin key
  CHECK(views.api_key(kWs, 10)->is_active);
  CHECK(views.audit.size() == 3);                // the creates only
  fold(views, key_revoke(12, Actor{7, 0}), 22);  // not a member
  CHECK(views.api_key(kWs, 12)->is_active);
  fold(views, key_revoke(11, kAdminUser), 23);
  CHECK_FALSE(views.api_key(kWs, 11)->is_active);
  CHECK_FALSE(views.api_key(kWs, 12)->is_active);
  fold(views, key_revoke(10, kOwnerUser), 24);
  CHECK_FALSE(views.api_key(kWs, 10)->is_active);
  CHECK(views.audit.size() == 5);
}

TEST_CASE(
    "fold rules: a key gets at most its creator's role where its create folds, and is inactive "
    "when the creator holds none") {
  MemoryViews views;
  owner_and_admin(views);
  fold(views, member_upsert(2, Role::kMember), 3);  // demoted after the API checked the create
  fold(views, key_create("a", Role::kAdmin, kAdminUser), 10);
  CHECK(views.api_key(kWs, 10)->role == Role::kMember);
  CHECK(views.api_key(kWs, 10)->is_active);
  fold(views, key_create("o", Role::kOwner, Actor{0, 10}), 11);  // a key above its creator key
  CHECK(views.api_key(kWs, 11)->role == Role::kMember);
  fold(views, member_remove(2), 12);
  fold(views, key_create("late", Role::kMember, kAdminUser), 13);
  CHECK_FALSE(views.api_key(kWs, 13)->is_active);
  fold(views, key_create("by-revoked", Role::kMember, Actor{0, 10}), 14);
  CHECK_FALSE(views.api_key(kWs, 14)->is_active);
  CHECK(views.api_key(kWs, 14)->role == Role::kMember);
}

}  // namespace
}  // namespace contacts
