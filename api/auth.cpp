#include "api/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/crypto.h"
#include "core/text.h"

namespace contacts {

std::string mint_jwt(std::string_view secret, int64_t user_id, int64_t expires_at) {
  std::string header = base64_encode(R"({"alg":"HS256","typ":"JWT"})", true, false);
  std::string payload = base64_encode(
      nlohmann::json{{"sub", std::to_string(user_id)}, {"exp", expires_at}}.dump(), true, false);
  std::string signing_input = header + "." + payload;
  return signing_input + "." + base64_encode(hmac_sha256(secret, signing_input), true, false);
}

Result<int64_t> verify_jwt(std::string_view token, std::string_view secret, int64_t now) {
  const Status bad{Code::kUnauthorized, "Invalid token"};
  auto first = token.find('.');
  auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
    return bad;
  std::string header_text, payload_text, signature;
  // One spelling per token: padding, the standard alphabet or stray bits are refused, not read
  // past (a deny-list or cache keyed on the token text sees every token once).
  if (!base64url_decode_canonical(token.substr(0, first), header_text) ||
      !base64url_decode_canonical(token.substr(first + 1, second - first - 1), payload_text) ||
      !base64url_decode_canonical(token.substr(second + 1), signature))
    return bad;
  auto header = nlohmann::json::parse(header_text, nullptr, false);
  if (!header.is_object()) return bad;
  auto alg = header.find("alg");  // of any JSON type: only the string "HS256" is taken
  if (alg == header.end() || !alg->is_string() || *alg != "HS256") return bad;
  if (!constant_time_equal(signature, hmac_sha256(secret, token.substr(0, second)))) return bad;
  auto payload = nlohmann::json::parse(payload_text, nullptr, false);
  if (!payload.is_object()) return bad;
  auto exp = payload.find("exp");
  if (exp == payload.end() || !exp->is_number() || exp->get<double>() <= static_cast<double>(now))
    return bad;
  auto sub = payload.find("sub");
  if (sub == payload.end()) return bad;
  int64_t user = 0;
  if (sub->is_number_integer()) {
    user = sub->get<int64_t>();
  } else if (sub->is_string()) {
    const auto& s = sub->get_ref<const std::string&>();
    // Decimal digits without a leading zero: one spelling per user id.
    if (s.empty() || s.size() > 16 || s[0] == '0' ||
        s.find_first_not_of("0123456789") != std::string::npos)
      return bad;
    user = std::stoll(s);
  } else {
    return bad;
  }
  if (user < 1 || user > kMaxSafeInteger) return bad;
  return user;
}

NewApiKey generate_api_key() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  NewApiKey key;
  key.full_key =
      "lnx_" +
      base64_encode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes), true, false);
  key.prefix = key.full_key.substr(0, 12);
  key.hash = sha256_hex(key.full_key);
  return key;
}

Result<Principal> Authenticator::authenticate(const ViewStore& views,
                                              std::string_view authorization) const {
  if (authorization.empty()) return Status{Code::kUnauthorized, "Authentication required"};
  const Status bad{Code::kUnauthorized, "Invalid token"};
  auto bearer = bearer_token(authorization);
  if (!bearer) return bad;
  std::string_view token = *bearer;
  Principal principal;
  if (token.substr(0, 4) == "lnx_") {
    auto key = views.api_key_by_hash(sha256_hex(token));
    if (!key || !key->is_active) return bad;
    principal.api_key_id = key->id;
    principal.key_workspace = key->workspace_id;
    principal.key_role = key->role;
    return principal;
  }
  if (!jwt_secret_) return bad;
  auto user = verify_jwt(token, *jwt_secret_, clock_.now_seconds());
  if (!user.ok()) return user.status();
  principal.user_id = *user;
  return principal;
}

Role Authenticator::role_in(const ViewStore& views, const Principal& principal,
                            WorkspaceId ws) const {
  if (principal.api_key_id != 0)
    return principal.key_workspace == ws ? principal.key_role : Role::kNone;
  return views.member_role(ws, principal.user_id);
}

}  // namespace contacts
