// The parts of the API's handlers that several of api/'s files share: a request being
// answered (`Request`) and the helpers every handler uses. Internal to api/: callers use
// api/handlers.h.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/handlers.h"
#include "api/router.h"

namespace contacts::api_internal {

using ordered_json = nlohmann::ordered_json;

struct Request {
  const ApiContext& ctx;
  const ViewStore& views;  // the set this request reads, whole
  const HttpRequest& http;
  Target target;
  Principal principal;
  WorkspaceId ws;
  Role role = Role::kNone;
};

HttpResponse ok_json(unsigned status, const ordered_json& body);
HttpResponse from_status(const Status& s);

// Stored JSON rows joined into an array, with the paging fields.
std::string page_of_rows(std::string_view field, const std::vector<std::string>& rows,
                         int64_t total, const Paging* paging);

// A command of `type` from the caller, in the request's workspace, with a new command id.
Command command_for(Request& r, CommandType type);

// A body's "name": trimmed, 1 to `max` characters of UTF-8 that show something (the decoder's
// rule for names, so the command folds); kInvalid with the answer's message.
Result<std::string> name_field(const nlohmann::json& body, size_t max);

// The JSON body of a POST, or why not.
Result<nlohmann::json> json_body(Request& r);

}  // namespace contacts::api_internal
