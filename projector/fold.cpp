#include "projector/fold.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/command_codec.h"
#include "core/json_writer.h"
#include "core/keys.h"
#include "core/text.h"

namespace contacts {

namespace {

using ordered_json = nlohmann::ordered_json;

struct Context {
  ViewBatch& batch;
  const Command& command;
  int64_t position_id;
  std::vector<Change>& changes;
  // Of a visit: the participant's normalized email and its index key (PreparedRecord).
  const std::optional<std::string>& email;
  const std::string& email_key;
};

std::optional<std::string> normalized_email(const std::optional<std::string>& email) {
  if (!email) return std::nullopt;
  std::string lower = unicode_lower(trim(*email));
  if (lower.empty()) return std::nullopt;
  return lower;
}

void add_to_counter(ViewBatch& batch, const std::string& key, int64_t delta) {
  auto v = batch.get(key);
  batch.put(key, encode_counter((v ? decode_counter(*v) : 0) + delta));
}

ordered_json actor_json(const Actor& actor) {
  if (actor.user_id != 0) return {{"user_id", actor.user_id}};
  if (actor.api_key_id != 0) return {{"api_key_id", actor.api_key_id}};
  return nullptr;
}

void write_audit(Context& ctx, std::string_view action, std::string_view target_type, int64_t target_id,
                 ordered_json details) {
  const Command& c = ctx.command;
  ordered_json entry = {{"id", ctx.position_id},
                        {"action", action},
                        {"actor", actor_json(c.actor)},
                        {"target_type", target_type},
                        {"target_id", target_id},
                        {"details", std::move(details)},
                        {"created_at", c.occurred_at}};
  ctx.batch.put(keys::audit_key(c.workspace_id, ctx.position_id), entry.dump());
  add_to_counter(ctx.batch, keys::audit_count_key(c.workspace_id), 1);
}

// The contact's last use: its name and email move into the change.
Change change_of(Change::Kind kind, Contact&& contact, const Context& ctx) {
  return {kind, WorkspaceId(contact.workspace_id), contact.id, std::move(contact.name), std::move(contact.email),
          ctx.position_id, ctx.command.occurred_at};
}

std::optional<Contact> load_contact(ViewBatch& batch, WorkspaceId ws, int64_t id) {
  auto v = batch.get(keys::contact_key(ws, id));
  Contact c;
  if (!v || !decode(*v, c)) return std::nullopt;
  return c;
}

// Finds the contact a participant is, by normalized email (`email_key` is its index key); a
// participant without an email matches nobody.
std::optional<Contact> find_participant(ViewBatch& batch, WorkspaceId ws, const std::optional<std::string>& email,
                                        const std::string& email_key) {
  if (!email) return std::nullopt;
  auto id = batch.get(email_key);
  if (!id) return std::nullopt;
  return load_contact(batch, ws, decode_counter(*id));
}

Contact new_contact(const Context& ctx, std::optional<std::string> email) {
  const Command& c = ctx.command;
  Contact contact;
  contact.id = ctx.position_id;
  contact.workspace_id = c.workspace_id.value;
  contact.name = c.participant_name;
  contact.email = std::move(email);
  contact.last_seen_at = contact.created_at = contact.updated_at = contact.name_at = c.occurred_at;
  contact.name_position = ctx.position_id;
  contact.folded_name = casefold(contact.name);
  contact.folded_email = contact.email ? casefold(*contact.email) : std::string();
  return contact;
}

// Returns whether the contact's name changed (its search text then changes too).
bool record_visit(Contact& contact, const Context& ctx) {
  const Command& c = ctx.command;
  contact.event_count += 1;
  contact.last_seen_at = std::max(contact.last_seen_at, c.occurred_at);
  contact.updated_at = std::max(contact.updated_at, c.occurred_at);
  contact.created_at = std::min(contact.created_at, c.occurred_at);
  bool later = c.occurred_at > contact.name_at ||
               (c.occurred_at == contact.name_at && ctx.position_id >= contact.name_position);
  bool renamed = false;
  if (later) {
    if (contact.name != c.participant_name) {
      contact.name = c.participant_name;
      contact.folded_name = casefold(contact.name);
      renamed = true;
    }
    contact.name_at = c.occurred_at;
    contact.name_position = ctx.position_id;
  }
  return renamed;
}

ContactEvent event_of(const Context& ctx, int64_t contact_id) {
  const Command& c = ctx.command;
  ContactEvent e;
  e.id = ctx.position_id;
  e.contact_id = contact_id;
  e.workspace_id = c.workspace_id.value;
  e.event_type = c.type;
  e.created_at = c.occurred_at;
  e.metadata = c.metadata;
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

void apply_visit(Context& ctx) {
  const Command& c = ctx.command;
  WorkspaceId ws = c.workspace_id;
  const auto& email = ctx.email;
  auto existing = find_participant(ctx.batch, ws, email, ctx.email_key);
  Contact contact;
  if (existing) {
    contact = std::move(*existing);
  } else {
    contact = new_contact(ctx, email);
    if (email) ctx.batch.put(ctx.email_key, encode_counter(contact.id));
    add_to_counter(ctx.batch, keys::contact_count_key(ws), 1);
  }
  const int64_t previous_last_seen = contact.last_seen_at;
  const bool renamed = record_visit(contact, ctx);
  ctx.batch.put(keys::contact_key(ws, contact.id), encode(contact));
  std::string list_key = keys::list_key(ws, contact.last_seen_at, contact.id);
  if (existing && contact.last_seen_at == previous_last_seen) {
    if (renamed) ctx.batch.put(list_key, encode_search_text(contact));
  } else {
    if (existing) ctx.batch.del(keys::list_key(ws, previous_last_seen, contact.id));
    // last_seen_at only grows, so a list key with a new last_seen_at was never committed.
    ctx.batch.put_new(std::move(list_key), encode_search_text(contact));
  }

  ContactEvent event = event_of(ctx, contact.id);
  ctx.batch.put(keys::timeline_key(ws, contact.id, event.created_at, event.id), encode(event));
  ctx.changes.push_back(change_of(existing ? Change::Kind::kUpdated : Change::Kind::kCreated, std::move(contact), ctx));
}

void apply_contact_delete(Context& ctx) {
  WorkspaceId ws = ctx.command.workspace_id;
  auto contact = load_contact(ctx.batch, ws, ctx.command.contact_id);
  if (!contact) return;  // deleting a missing contact is a no-op
  ctx.batch.del(keys::contact_key(ws, contact->id));
  ctx.batch.del(keys::list_key(ws, contact->last_seen_at, contact->id));
  if (contact->email) ctx.batch.del(keys::email_key(ws, *contact->email));
  std::vector<std::string> event_keys;
  ctx.batch.scan(keys::timeline_prefix(ws, contact->id), [&](std::string_view key, std::string_view) {
    event_keys.emplace_back(key);
    return true;
  });
  for (const auto& key : event_keys) ctx.batch.del(key);
  add_to_counter(ctx.batch, keys::contact_count_key(ws), -1);
  write_audit(ctx, "contact.delete", "contact", contact->id,
              {{"name", contact->name}, {"email", contact->email ? ordered_json(*contact->email) : ordered_json(nullptr)}});
  ctx.changes.push_back(change_of(Change::Kind::kDeleted, std::move(*contact), ctx));
}

// Marks the room (or booking page) deleted as of this position: events of it from earlier
// positions are served with a null id (ViewStore::timeline). O(1), however many events it has.
void apply_resource_delete(Context& ctx, keys::Tag tag, int64_t resource) {
  ctx.batch.put(keys::deleted_resource_key(tag, ctx.command.workspace_id, resource), encode_counter(ctx.position_id));
}

void apply_api_key_create(Context& ctx) {
  const Command& c = ctx.command;
  // First writer wins: a hash already bound to a key keeps its binding.
  if (ctx.batch.get(keys::api_key_hash_key(c.key_hash))) return;
  ordered_json row = {{"id", ctx.position_id},      {"name", c.key_name},
                      {"key_prefix", c.key_prefix}, {"role", to_string(c.role)},
                      {"is_active", true},          {"created_at", c.occurred_at}};
  ctx.batch.put(keys::api_key_key(c.workspace_id, ctx.position_id), row.dump());
  std::string ref = encode_counter(c.workspace_id.value) + encode_counter(ctx.position_id);
  ctx.batch.put(keys::api_key_hash_key(c.key_hash), ref);
  write_audit(ctx, "api_key.create", "api_key", ctx.position_id,
              {{"name", c.key_name}, {"role", to_string(c.role)}});
}

void apply_api_key_revoke(Context& ctx) {
  const Command& c = ctx.command;
  std::string key = keys::api_key_key(c.workspace_id, c.key_id);
  auto value = ctx.batch.get(key);
  if (!value) return;
  auto row = ordered_json::parse(*value, nullptr, false);
  if (row.is_discarded() || !row.value("is_active", false)) return;
  row["is_active"] = false;
  ctx.batch.put(key, row.dump());
  write_audit(ctx, "api_key.revoke", "api_key", c.key_id,
              {{"name", row.value("name", std::string())}, {"role", row.value("role", std::string())}});
}

void apply_webhook_create(Context& ctx) {
  const Command& c = ctx.command;
  ordered_json events = ordered_json::array();
  for (auto name : webhook_event_names(c.webhook_events)) events.push_back(name);
  ordered_json row = {{"id", ctx.position_id}, {"name", c.webhook_name}, {"url", c.webhook_url},
                      {"events", events},      {"is_active", true},     {"created_at", c.occurred_at},
                      {"secret", c.webhook_secret}};
  ctx.batch.put(keys::webhook_key(c.workspace_id, ctx.position_id), row.dump());
  auto subscriptions = decode_subscriptions(ctx.batch.get(keys::webhook_set_key(c.workspace_id)).value_or(""));
  subscriptions.push_back({ctx.position_id, c.webhook_events});
  ctx.batch.put(keys::webhook_set_key(c.workspace_id), encode_subscriptions(subscriptions));
  write_audit(ctx, "webhook.create", "webhook", ctx.position_id,
              {{"name", c.webhook_name}, {"url", c.webhook_url}, {"events", std::move(events)}});
}

void apply_webhook_delete(Context& ctx) {
  const Command& c = ctx.command;
  std::string key = keys::webhook_key(c.workspace_id, c.webhook_id);
  auto value = ctx.batch.get(key);
  if (!value) return;  // deleting a missing webhook is a no-op
  auto row = ordered_json::parse(*value, nullptr, false);
  ctx.batch.del(key);
  auto subscriptions = decode_subscriptions(ctx.batch.get(keys::webhook_set_key(c.workspace_id)).value_or(""));
  std::erase_if(subscriptions, [&](const Subscription& s) { return s.webhook_id == c.webhook_id; });
  if (subscriptions.empty()) ctx.batch.del(keys::webhook_set_key(c.workspace_id));
  else ctx.batch.put(keys::webhook_set_key(c.workspace_id), encode_subscriptions(subscriptions));
  ordered_json details = {{"name", row.is_object() ? row.value("name", std::string()) : std::string()},
                          {"url", row.is_object() ? row.value("url", std::string()) : std::string()}};
  write_audit(ctx, "webhook.delete", "webhook", c.webhook_id, std::move(details));
}

void apply_command(Context& ctx) {
  const Command& c = ctx.command;
  switch (c.type) {
    case CommandType::kRoomJoin:
    case CommandType::kBooking: apply_visit(ctx); break;
    case CommandType::kContactDelete: apply_contact_delete(ctx); break;
    case CommandType::kMemberUpsert:
      ctx.batch.put(keys::member_key(c.workspace_id, c.user_id), std::string(to_string(c.role)));
      break;
    case CommandType::kMemberRemove: ctx.batch.del(keys::member_key(c.workspace_id, c.user_id)); break;
    case CommandType::kRoomDelete: apply_resource_delete(ctx, keys::kRoomDeleted, c.room_id); break;
    case CommandType::kBookingPageDelete: apply_resource_delete(ctx, keys::kPageDeleted, c.booking_page_id); break;
    case CommandType::kApiKeyCreate: apply_api_key_create(ctx); break;
    case CommandType::kApiKeyRevoke: apply_api_key_revoke(ctx); break;
    case CommandType::kWebhookCreate: apply_webhook_create(ctx); break;
    case CommandType::kWebhookDelete: apply_webhook_delete(ctx); break;
  }
}

}  // namespace

std::string encode_subscriptions(const std::vector<Subscription>& subscriptions) {
  std::string out;
  for (const auto& s : subscriptions) {
    keys::put_u64(out, static_cast<uint64_t>(s.webhook_id));
    out.push_back(static_cast<char>(s.events));
  }
  return out;
}

std::vector<Subscription> decode_subscriptions(std::string_view bytes) {
  std::vector<Subscription> out;
  for (size_t at = 0; at + 9 <= bytes.size(); at += 9)
    out.push_back({static_cast<int64_t>(keys::get_u64(bytes, at)), static_cast<uint8_t>(bytes[at + 8])});
  return out;
}

WebhookEvent webhook_event_of(Change::Kind kind) {
  switch (kind) {
    case Change::Kind::kCreated: return kContactCreated;
    case Change::Kind::kUpdated: return kContactUpdated;
    case Change::Kind::kDeleted: break;
  }
  return kContactDeleted;
}

bool record_change(ViewBatch& batch, const Change& change, ChangeScope scope, std::string* queued) {
  auto set = batch.get(keys::webhook_set_key(change.workspace_id));
  if (!set && scope == ChangeScope::kSubscribed) return false;
  WebhookEvent event = webhook_event_of(change.kind);
  std::vector<int64_t> targets;
  if (set)
    for (const auto& s : decode_subscriptions(*set))
      if (s.events & event) targets.push_back(s.webhook_id);
  if (targets.empty() && scope == ChangeScope::kSubscribed) return false;
  // Written directly (this runs for every change on a writer): the keys in this order.
  JsonWriter entry;
  entry.begin_object().key("position").value(change.position_id);
  entry.key("event").value(to_string(event));
  entry.key("workspace_id").value(change.workspace_id.value);
  entry.key("occurred_at").value(change.occurred_at);
  entry.key("data").begin_object().key("id").value(change.contact_id);
  entry.key("name").value(change.name).key("email").value(change.email).end_object();
  entry.key("webhooks").begin_array();
  for (int64_t id : targets) entry.value(id);
  entry.end_array().end_object();
  std::string value = entry.take();
  if (queued) *queued = value;
  batch.put(keys::outbox_key(change.position_id), std::move(value));
  return true;
}

void prepare(const LogEntry& entry, int32_t partitions, PreparedRecord& out) {
  decode_command(entry.value, out.command);
  out.dedup_key.clear();
  out.email.reset();
  out.email_key.clear();
  if (!out.command.ok()) return;
  const Command& c = *out.command;
  if (entry.key != std::to_string(c.workspace_id.value)) {
    out.command = Status{Code::kInvalid, "record key \"" + entry.key + "\" is not the command's workspace_id"};
    return;
  }
  // A workspace's records must share one partition: its order, and the fold threads (which
  // own disjoint partitions), depend on it. A producer with another partitioner breaks that.
  if (Partition expected = partition_for(entry.key, partitions); expected.value != entry.partition.value) {
    out.command = Status{Code::kInvalid, "record of key \"" + entry.key + "\" is in partition " +
                                             std::to_string(entry.partition.value) + " but belongs in partition " +
                                             std::to_string(expected.value) + " (Kafka's murmur2 partitioner)"};
    return;
  }
  out.dedup_key = keys::dedup_key(c.workspace_id, c.command_id);
  if (c.type == CommandType::kRoomJoin || c.type == CommandType::kBooking) {
    out.email = normalized_email(c.participant_email);
    if (out.email) out.email_key = keys::email_key(c.workspace_id, *out.email);
  }
}

void prefetch_prepared(const ViewBatch& batch, const PreparedRecord& prepared) {
  if (!prepared.dedup_key.empty()) batch.prefetch(prepared.dedup_key);
  if (!prepared.email_key.empty()) batch.prefetch(prepared.email_key);
}

Status apply_prepared(ViewBatch& batch, const LogEntry& entry, PreparedRecord& prepared, int32_t partitions,
                      std::vector<Change>& changes) {
  if (!prepared.command.ok()) return prepared.command.status();
  if (batch.get(prepared.dedup_key)) return {};  // a command_id seen before changes nothing
  batch.put(std::move(prepared.dedup_key), "");  // spent: prepare() builds the next one
  Context ctx{batch,   *prepared.command, id_from_position(entry.partition, entry.offset, partitions),
              changes, prepared.email,    prepared.email_key};
  apply_command(ctx);
  return {};
}

Status apply(ViewBatch& batch, const LogEntry& entry, int32_t partitions, std::vector<Change>& changes) {
  PreparedRecord prepared;
  prepare(entry, partitions, prepared);
  return apply_prepared(batch, entry, prepared, partitions, changes);
}

}  // namespace contacts
