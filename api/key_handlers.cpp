// The API keys of a workspace (list, create, revoke) and its audit log.
#include "api/internal/request.h"
#include "api/internal/routes.h"
#include "core/text.h"

namespace contacts::api_internal {

HttpResponse list_api_keys(Request& r) {
  std::vector<std::string> rows;
  for (const auto& key : r.views.api_keys(r.ws)) rows.push_back(encode(key));
  return json_response(200, page_of_rows("api_keys", rows, 0, nullptr));
}

HttpResponse create_api_key(Request& r) {
  auto parsed = json_body(r);
  if (!parsed.ok()) return from_status(parsed.status());
  const nlohmann::json& body = *parsed;
  auto trimmed = name_field(body, kMaxKeyNameLength);
  if (!trimmed.ok()) return from_status(trimmed.status());
  Role role = Role::kMember;
  if (auto it = body.find("role"); it != body.end() && !it->is_null()) {
    auto parsed = it->is_string() ? role_from(it->get_ref<const std::string&>()) : std::nullopt;
    if (!parsed) return error_response(400, "role must be one of owner, admin, member");
    role = *parsed;
  }
  if (role > r.role)
    return error_response(403, "Cannot create a key with a higher role than your own");
  NewApiKey key = generate_api_key();
  Command c = command_for(r, CommandType::kApiKeyCreate);
  c.key_name = std::move(*trimmed);
  c.role = role;
  c.key_hash = key.hash;
  c.key_prefix = key.prefix;
  auto id = r.ctx.submitter.submit(std::move(c));
  if (!id.ok()) return from_status(id.status());
  // The set live now: a rebuild may have swapped in another while the write applied.
  auto row = r.ctx.views.get()->api_key(r.ws, *id);
  if (row) {
    auto j = ordered_json::parse(encode(*row));
    j["full_key"] = key.full_key;
    return ok_json(201, {{"api_key", std::move(j)}});
  }
  return error_response(500, "API key was not stored");
}

// Only a key of at most the caller's role: an admin does not revoke an owner key. The fold
// judges the revoke again at its position in the log (projector/fold.cpp).
HttpResponse revoke_api_key(Request& r) {
  auto id = parse_id(r.target.segments[4]);
  auto key = id ? r.views.api_key(r.ws, *id) : std::nullopt;
  if (!key) return error_response(404, "API key not found");
  if (key->role > r.role) return error_response(403, "Only owners can revoke owner keys");
  Command c = command_for(r, CommandType::kApiKeyRevoke);
  c.key_id = *id;
  auto applied = r.ctx.submitter.submit(std::move(c));
  if (!applied.ok()) return from_status(applied.status());
  // Still active: the caller's role fell between the check above and the revoke's turn in the
  // log, and the fold refused it. The set live now, as in create_api_key.
  auto after = r.ctx.views.get()->api_key(r.ws, *id);
  if (after && after->is_active)
    return error_response(403, "Your role no longer allows revoking this key");
  return ok_json(200, {{"ok", true}});
}

HttpResponse audit_log(Request& r) {
  Paging paging = parse_paging(r.target.query);
  AuditPage page = r.views.audit(r.ws, paging.page, paging.limit);
  std::vector<std::string> rows;
  for (const auto& entry : page.entries) rows.push_back(encode(entry));
  return json_response(200, page_of_rows("entries", rows, page.total, &paging));
}

}  // namespace contacts::api_internal
