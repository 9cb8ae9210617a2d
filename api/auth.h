// Authentication: HS256 JWTs (sub = user id, exp enforced) and workspace API keys (lnx_...),
// and the role a principal has in a workspace (DESIGN.md section 6). Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/command.h"
#include "core/crypto.h"
#include "core/status.h"
#include "views/view_store.h"

namespace contacts {

struct Principal {
  int64_t user_id = 0;     // set for a JWT
  int64_t api_key_id = 0;  // set for an API key
  WorkspaceId key_workspace;
  Role key_role = Role::kNone;
  Actor actor() const { return Actor{user_id, api_key_id}; }
};

// A signed HS256 JWT for `user_id`, expiring at `expires_at` (unix seconds).
std::string mint_jwt(std::string_view secret, int64_t user_id, int64_t expires_at);
// The user id of a valid, unexpired token; kUnauthorized otherwise.
Result<int64_t> verify_jwt(std::string_view token, std::string_view secret, int64_t now);

struct NewApiKey {
  std::string full_key;  // lnx_ + base64url(32 random bytes): shown once
  std::string prefix;    // first 12 characters
  std::string hash;      // hex SHA-256, the only thing stored
};
NewApiKey generate_api_key();

class Authenticator {
 public:
  Authenticator(std::optional<std::string> jwt_secret, const Clock& clock)
      : jwt_secret_(std::move(jwt_secret)), clock_(clock) {}

  // From an Authorization header value; kUnauthorized with the message the API answers. API
  // keys and roles are read from `views`: the set the request reads.
  Result<Principal> authenticate(const ViewStore& views, std::string_view authorization) const;
  // The principal's role in `ws` (kNone when not a member).
  Role role_in(const ViewStore& views, const Principal& principal, WorkspaceId ws) const;

 private:
  std::optional<std::string> jwt_secret_;
  const Clock& clock_;
};

}  // namespace contacts
