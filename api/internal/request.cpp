// The helpers the API's handlers share (api/internal/request.h).
#include "api/internal/request.h"

#include "core/json_writer.h"
#include "core/text.h"

namespace contacts::api_internal {

HttpResponse ok_json(unsigned status, const ordered_json& body) {
  return json_response(status, body.dump());
}
HttpResponse from_status(const Status& s) {
  return error_response(static_cast<unsigned>(http_status(s.code())), s.message());
}

// Stored JSON rows joined into an array, with the paging fields.
std::string page_of_rows(std::string_view field, const std::vector<std::string>& rows,
                         int64_t total, const Paging* paging) {
  std::string out = "{\"" + std::string(field) + "\":[";
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i) out.push_back(',');
    out.append(rows[i]);
  }
  out.append("]");
  if (paging) {
    out.append(",\"total\":" + std::to_string(total) + ",\"page\":" + std::to_string(paging->page) +
               ",\"limit\":" + std::to_string(paging->limit));
  }
  out.append("}");
  return out;
}

Command command_for(Request& r, CommandType type) {
  Command c;
  c.type = type;
  c.command_id = new_command_id("api");
  c.workspace_id = r.ws;
  c.occurred_at = r.ctx.clock.now_seconds();
  c.actor = r.principal.actor();
  return c;
}

Result<std::string> name_field(const nlohmann::json& body, size_t max) {
  auto name = body.find("name");
  if (name == body.end() || !name->is_string() || trim(name->get_ref<const std::string&>()).empty())
    return Status{Code::kInvalid, "name is required"};
  std::string trimmed(trim(name->get_ref<const std::string&>()));
  if (!valid_utf8(trimmed) || utf8_length(trimmed) > max)
    return Status{Code::kInvalid, "name must be at most " + std::to_string(max) + " characters"};
  if (!printable_name(trimmed))
    return Status{Code::kInvalid, "name must show a character and hold no NUL"};
  return trimmed;
}

Result<nlohmann::json> json_body(Request& r) {
  if (!json_depth_within(r.http.body(), kMaxJsonDepth))
    return Status{Code::kInvalid, "Body must be a JSON object"};
  auto body = nlohmann::json::parse(r.http.body(), nullptr, false);
  if (!body.is_object()) return Status{Code::kInvalid, "Body must be a JSON object"};
  return body;
}

}  // namespace contacts::api_internal
