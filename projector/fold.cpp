#include "projector/fold.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/text.h"
#include "privacy/sealing.h"

namespace contacts {

namespace {

using ordered_json = nlohmann::ordered_json;

std::optional<std::string> normalized_email(const std::optional<std::string>& email) {
  if (!email) return std::nullopt;
  std::string lower = normalize_email(*email);
  if (lower.empty()) return std::nullopt;
  return lower;
}

struct Context {
  ViewWriter& views;
  const Command& command;
  const CommandFacts& facts;
  std::vector<Change>& changes;
  // A visit of an erased person: sealed under a key that is destroyed, or that an erasure folded
  // before it destroyed (apply_visit). Folded by its blind index alone, with no name, email or
  // metadata.
  bool erased = false;
  int64_t position_id() const { return facts.position_id; }
};

void write_audit(Context& ctx, std::string_view action, std::string_view target_type,
                 int64_t target_id, ordered_json details) {
  const Command& c = ctx.command;
  ctx.views.append_audit(AuditEntry{ctx.position_id(), c.workspace_id, std::string(action), c.actor,
                                    std::string(target_type), target_id, std::move(details),
                                    c.occurred_at});
}

// The contact's last use: its name and email move into the change.
Change change_of(Change::Kind kind, Contact&& contact, const Context& ctx) {
  return {kind,
          WorkspaceId(contact.workspace_id),
          contact.id,
          std::move(contact.name),
          std::move(contact.email),
          ctx.position_id(),
          ctx.command.occurred_at,
          std::move(contact.subject),
          std::move(contact.key_ids)};
}

// Finds the contact a participant is, by the blind index of its normalized email (the same
// whether the record is sealed, in clear, or of an erased person); a participant without an
// email matches nobody.
std::optional<Contact> find_participant(Context& ctx) {
  if (ctx.facts.email_key.bytes.empty()) return std::nullopt;
  auto id = ctx.views.contact_by_email(ctx.facts.email_key);
  if (!id) return std::nullopt;
  return ctx.views.contact(ctx.command.workspace_id, *id);
}

Contact new_contact(const Context& ctx) {
  const Command& c = ctx.command;
  Contact contact;
  contact.id = ctx.position_id();
  contact.workspace_id = c.workspace_id.value;
  if (!ctx.erased) {
    contact.name = c.participant_name;
    contact.email = ctx.facts.email;
  }
  contact.last_seen_at = contact.created_at = contact.updated_at = contact.name_at = c.occurred_at;
  contact.name_position = ctx.position_id();
  contact.folded_name = casefold(contact.name);
  contact.folded_email = contact.email ? casefold(*contact.email) : std::string();
  contact.subject = ctx.facts.subject;
  contact.email_index = ctx.facts.email_index;
  return contact;
}

// Remembers the key a sealed record was sealed under: the contact's erasure destroys it.
bool holds_key(const std::string& key_ids, const std::string& key_id);

void remember_key(Contact& contact, const Command& c) {
  if (c.sealed && !holds_key(contact.key_ids, c.data_key_id)) contact.key_ids += c.data_key_id;
}

// Returns whether the contact's name changed (its search text then changes too).
bool record_visit(Contact& contact, const Context& ctx) {
  const Command& c = ctx.command;
  remember_key(contact, c);
  contact.event_count += 1;
  contact.last_seen_at = std::max(contact.last_seen_at, c.occurred_at);
  contact.updated_at = std::max(contact.updated_at, c.occurred_at);
  contact.created_at = std::min(contact.created_at, c.occurred_at);
  bool renamed = false;
  if (ctx.erased) return renamed;  // a record of an erased person: its name is gone
  if (!contact.email && ctx.facts.email) {
    // Made by a record whose key was destroyed (sealed just before its person was erased): the
    // person came back, and now has an email again.
    contact.email = ctx.facts.email;
    contact.folded_email = casefold(*contact.email);
    renamed = true;
  }
  bool later = c.occurred_at > contact.name_at ||
               (c.occurred_at == contact.name_at && ctx.position_id() >= contact.name_position);
  if (later) {
    if (contact.name != c.participant_name) {
      contact.name = c.participant_name;
      contact.folded_name = casefold(contact.name);
      renamed = true;
    }
    contact.name_at = c.occurred_at;
    contact.name_position = ctx.position_id();
  }
  return renamed;
}

ContactEvent event_of(const Context& ctx, int64_t contact_id) {
  const Command& c = ctx.command;
  ContactEvent e;
  e.id = ctx.position_id();
  e.contact_id = contact_id;
  e.workspace_id = c.workspace_id.value;
  e.event_type = c.type;
  e.created_at = c.occurred_at;
  if (!ctx.erased) e.metadata = c.metadata;
  if (c.type == CommandType::kRoomJoin) {
    e.room_id = c.room_id;
    e.room_name = c.room_name;
    e.room_display_name = c.room_display_name;
  } else {
    e.booking_page_id = c.booking_page_id;
    e.booking_page_title = c.booking_page_title;
    e.booking_page_slug = c.booking_page_slug;
  }
  return e;
}

// Whether a contact's key ids hold `key_id`.
bool holds_key(const std::string& key_ids, const std::string& key_id) {
  for (size_t at = 0; at + key_id.size() <= key_ids.size(); at += key_id.size())
    if (key_ids.compare(at, key_id.size(), key_id) == 0) return true;
  return false;
}

void apply_visit(Context& ctx) {
  auto existing = find_participant(ctx);
  const Command& c = ctx.command;
  // A key its contact uses is not destroyed (keys are destroyed with their contact); any other
  // may be one an erasure folded before this record: then the record is an erased person's, as a
  // replay (whose key store no longer has the key) will fold it.
  ctx.erased =
      c.key_gone || (c.sealed && !(existing && holds_key(existing->key_ids, c.data_key_id)) &&
                     ctx.views.key_destroyed(c.data_key_id));
  Contact contact;
  std::optional<ContactBefore> before;
  if (existing) {
    contact = std::move(*existing);
    before = ContactBefore{contact.last_seen_at, true};
  } else {
    contact = new_contact(ctx);
    if (!ctx.facts.email_key.bytes.empty())
      ctx.views.put_email(ctx.facts.email_key, ContactId(contact.id));
    ctx.views.add_contact_count(ctx.command.workspace_id, 1);
  }
  if (record_visit(contact, ctx) && before) before->same_search_text = false;
  ctx.views.put_contact(contact, before);
  ctx.views.put_event(event_of(ctx, contact.id));
  ctx.changes.push_back(change_of(existing ? Change::Kind::kUpdated : Change::Kind::kCreated,
                                  std::move(contact), ctx));
}

// contact_delete, and contact_erase by contact id or email index: the contact and its events go,
// and the change carries its subject, whose keys the projector destroys before the batch commits.
// The audit entry identifies the act only: an erased person's name and email stay nowhere.
void apply_contact_delete(Context& ctx) {
  const Command& c = ctx.command;
  WorkspaceId ws = c.workspace_id;
  std::optional<Contact> contact;
  if (c.contact_id != 0)
    contact = ctx.views.contact(ws, ContactId(c.contact_id));
  else if (auto id = ctx.views.contact_by_email(ctx.facts.email_key))
    contact = ctx.views.contact(ws, *id);
  if (!contact) return;  // deleting a missing contact is a no-op
  ctx.views.delete_contact(*contact);
  ctx.views.add_contact_count(ws, -1);
  // Its keys are destroyed with it: a record sealed under one and folded later is an erased
  // person's, whether the key store has destroyed it by then or not (live) or long since (replay).
  for (const auto& id : split_key_ids(contact->key_ids)) ctx.views.put_destroyed_key(id);
  write_audit(ctx, c.type == CommandType::kContactErase ? "contact.erase" : "contact.delete",
              "contact", contact->id, ordered_json::object());
  ctx.changes.push_back(change_of(Change::Kind::kDeleted, std::move(*contact), ctx));
}

// The role `actor` acts with in the command's workspace now: a user's membership, an API key's
// own role while it is active. A command without an actor comes from the operator (`contacts keys
// create`; the API always names one), who holds every role.
Role authority(Context& ctx, const Actor& actor) {
  const WorkspaceId ws = ctx.command.workspace_id;
  if (actor.user_id != 0) return ctx.views.member_role(ws, UserId(actor.user_id));
  if (actor.api_key_id != 0) {
    auto key = ctx.views.api_key(ws, actor.api_key_id);
    return key && key->is_active ? key->role : Role::kNone;
  }
  return Role::kOwner;
}

// A key acts with at most its creator's current role (docs/decisions.md, issue 20): lowers the
// keys `creator` made to `ceiling`, or deactivates them when it is kNone, and likewise the keys
// those made, down the chain. A lowered or deactivated key stays so: a later promotion of its
// creator does not raise it again. A key left unchanged already is within `ceiling`, and so are
// the keys it made (each is within its creator's role from its creation on), so the walk stops
// there.
void limit_keys_created_by(Context& ctx, const Actor& creator, Role ceiling) {
  const WorkspaceId ws = ctx.command.workspace_id;
  std::vector<int64_t> pending = ctx.views.api_keys_created_by(ws, creator);
  while (!pending.empty()) {
    const int64_t id = pending.back();
    pending.pop_back();
    auto key = ctx.views.api_key(ws, id);
    if (!key || !key->is_active) continue;
    if (ceiling == Role::kNone)
      key->is_active = false;
    else if (key->role > ceiling)
      key->role = ceiling;
    else
      continue;
    ctx.views.put_api_key(*key);
    for (int64_t made : ctx.views.api_keys_created_by(ws, Actor{0, id})) pending.push_back(made);
  }
}

// The key gets at most its creator's role at this position (the API checked it earlier; the
// creator may have been demoted or removed since), and none when the creator holds none: then
// it is stored inactive.
void apply_api_key_create(Context& ctx) {
  const Command& c = ctx.command;
  // First writer wins: a hash already bound to a key keeps its binding.
  if (ctx.views.api_key_hash_exists(c.key_hash)) return;
  const Role ceiling = authority(ctx, c.actor);
  const bool active = ceiling != Role::kNone;
  const Role role = active ? std::min(c.role, ceiling) : c.role;
  ctx.views.put_api_key(ApiKey{ctx.position_id(), c.workspace_id, c.key_name, c.key_prefix, role,
                               active, c.occurred_at});
  ctx.views.put_api_key_hash(c.key_hash, ApiKeyRef{c.workspace_id, ctx.position_id()});
  if (c.actor.known()) {
    auto made = ctx.views.api_keys_created_by(c.workspace_id, c.actor);
    made.push_back(ctx.position_id());
    ctx.views.put_api_keys_created_by(c.workspace_id, c.actor, made);
  }
  write_audit(ctx, "api_key.create", "api_key", ctx.position_id(),
              {{"name", c.key_name}, {"role", to_string(role)}});
}

// Only an owner or admin revokes a key, and only a key of at most their own role (only owners
// revoke owner keys), judged at this position. The keys it made go with it.
void apply_api_key_revoke(Context& ctx) {
  const Command& c = ctx.command;
  auto key = ctx.views.api_key(c.workspace_id, c.key_id);
  if (!key || !key->is_active) return;
  const Role actor_role = authority(ctx, c.actor);
  if (!can_manage(actor_role) || key->role > actor_role) return;
  key->is_active = false;
  ctx.views.put_api_key(*key);
  limit_keys_created_by(ctx, Actor{0, c.key_id}, Role::kNone);
  write_audit(ctx, "api_key.revoke", "api_key", c.key_id,
              {{"name", key->name}, {"role", to_string(key->role)}});
}

void apply_webhook_create(Context& ctx) {
  const Command& c = ctx.command;
  Webhook webhook{ctx.position_id(), c.workspace_id,
                  c.webhook_name,    c.webhook_url,
                  c.webhook_events,  true,
                  c.occurred_at,     c.webhook_secret,
                  std::string(),     0};
  ctx.views.put_webhook(webhook);
  auto subscriptions = ctx.views.subscriptions(c.workspace_id);
  subscriptions.push_back({ctx.position_id(), c.webhook_events});
  ctx.views.put_subscriptions(c.workspace_id, subscriptions);
  write_audit(ctx, "webhook.create", "webhook", ctx.position_id(),
              {{"name", c.webhook_name},
               {"url", c.webhook_url},
               {"events", webhook_events_json(c.webhook_events)}});
}

void apply_webhook_delete(Context& ctx) {
  const Command& c = ctx.command;
  auto webhook = ctx.views.webhook(c.workspace_id, c.webhook_id);
  if (!webhook) return;  // deleting a missing webhook is a no-op
  ctx.views.delete_webhook(c.workspace_id, c.webhook_id);
  auto subscriptions = ctx.views.subscriptions(c.workspace_id);
  std::erase_if(subscriptions, [&](const Subscription& s) { return s.webhook_id == c.webhook_id; });
  ctx.views.put_subscriptions(c.workspace_id, subscriptions);
  write_audit(ctx, "webhook.delete", "webhook", c.webhook_id,
              {{"name", webhook->name}, {"url", webhook->url}});
}

// Pause (is_active false) or resume. The subscription set is unchanged: a paused subscription
// still gets its deliveries, which wait in the dispatcher until it is resumed.
void apply_webhook_update(Context& ctx) {
  const Command& c = ctx.command;
  auto webhook = ctx.views.webhook(c.workspace_id, c.webhook_id);
  if (!webhook) return;  // a deleted webhook: a no-op
  webhook->is_active = c.webhook_active;
  ctx.views.put_webhook(*webhook);
  write_audit(ctx, c.webhook_active ? "webhook.resume" : "webhook.pause", "webhook", c.webhook_id,
              {{"name", webhook->name}});
}

// The new secret signs from now on; the one it replaces still signs, in a second signature, until
// occurred_at + overlap (only the latest replaced secret: a second rotation drops the first). The
// audit entry never holds a secret.
void apply_webhook_rotate_secret(Context& ctx) {
  const Command& c = ctx.command;
  auto webhook = ctx.views.webhook(c.workspace_id, c.webhook_id);
  if (!webhook) return;
  webhook->previous_secret = std::move(webhook->secret);
  webhook->previous_secret_expires_at = c.occurred_at + c.webhook_overlap_seconds;
  webhook->secret = c.webhook_secret;
  ctx.views.put_webhook(*webhook);
  write_audit(ctx, "webhook.rotate_secret", "webhook", c.webhook_id,
              {{"name", webhook->name}, {"overlap_seconds", c.webhook_overlap_seconds}});
}

// webhook_test and webhook_redeliver: acts on the delivery store of the process that answered the
// API, recorded here so that the audit log has them. A test delivery's message id is this
// record's position.
void apply_webhook_delivery_request(Context& ctx) {
  const Command& c = ctx.command;
  if (!ctx.views.webhook(c.workspace_id, c.webhook_id)) return;
  const bool test = c.type == CommandType::kWebhookTest;
  write_audit(
      ctx, test ? "webhook.test" : "webhook.redeliver", "webhook", c.webhook_id,
      {{"message_id", test ? "msg_" + std::to_string(ctx.position_id()) : c.webhook_message_id}});
}

// A member's keys follow their role down in the same batch: lowered with a demotion,
// deactivated with a removal (limit_keys_created_by).
void apply_member(Context& ctx) {
  const Command& c = ctx.command;
  const Actor user{c.user_id, 0};
  if (c.type == CommandType::kMemberUpsert) {
    ctx.views.put_member(c.workspace_id, UserId(c.user_id), c.role);
    limit_keys_created_by(ctx, user, c.role);
  } else {
    ctx.views.remove_member(c.workspace_id, UserId(c.user_id));
    limit_keys_created_by(ctx, user, Role::kNone);
  }
}

void apply_command(Context& ctx) {
  const Command& c = ctx.command;
  switch (c.type) {
    case CommandType::kRoomJoin:
    case CommandType::kBooking:
      apply_visit(ctx);
      break;
    case CommandType::kContactDelete:
    case CommandType::kContactErase:
      apply_contact_delete(ctx);
      break;
    case CommandType::kMemberUpsert:
    case CommandType::kMemberRemove:
      apply_member(ctx);
      break;
    // Events of the room (page) from earlier positions are served with a null id
    // (ViewStore::timeline): O(1), however many events it has.
    case CommandType::kRoomDelete:
      ctx.views.mark_room_deleted(c.workspace_id, c.room_id, ctx.position_id());
      break;
    case CommandType::kBookingPageDelete:
      ctx.views.mark_booking_page_deleted(c.workspace_id, c.booking_page_id, ctx.position_id());
      break;
    case CommandType::kApiKeyCreate:
      apply_api_key_create(ctx);
      break;
    case CommandType::kApiKeyRevoke:
      apply_api_key_revoke(ctx);
      break;
    case CommandType::kWebhookCreate:
      apply_webhook_create(ctx);
      break;
    case CommandType::kWebhookDelete:
      apply_webhook_delete(ctx);
      break;
    case CommandType::kWebhookUpdate:
      apply_webhook_update(ctx);
      break;
    case CommandType::kWebhookRotateSecret:
      apply_webhook_rotate_secret(ctx);
      break;
    case CommandType::kWebhookTest:
    case CommandType::kWebhookRedeliver:
      apply_webhook_delivery_request(ctx);
      break;
  }
}

}  // namespace

void derive_facts(const Command& command, int64_t position_id, std::string_view index_key,
                  CommandFacts& out) {
  out.position_id = position_id;
  out.email.reset();
  out.email_key.bytes.clear();
  out.email_index.clear();
  out.subject.clear();
  if (command.type == CommandType::kContactErase) {
    if (command.erase_email)  // in clear: from a node without a key store
      out.email_index =
          blind_index(index_key, command.workspace_id, normalize_email(*command.erase_email));
    else
      out.email_index = command.email_index;
    if (!out.email_index.empty()) out.email_key = email_key(command.workspace_id, out.email_index);
    return;
  }
  if (command.type != CommandType::kRoomJoin && command.type != CommandType::kBooking) return;
  out.email = normalized_email(command.participant_email);
  if (command.sealed) {
    // The producer's blind index: the key that opens the rest may be gone.
    out.email_index = command.email_index;
    out.subject = command.subject;
  } else if (out.email) {
    out.email_index = blind_index(index_key, command.workspace_id, *out.email);
    out.subject = email_subject(out.email_index);
  }
  if (!out.email_index.empty()) out.email_key = email_key(command.workspace_id, out.email_index);
}

void apply(ViewWriter& views, const Command& command, const CommandFacts& facts,
           std::vector<Change>& changes) {
  Context ctx{views, command, facts, changes};
  apply_command(ctx);
}

}  // namespace contacts
