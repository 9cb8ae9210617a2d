// The tables' row encodings: the JSON rows are byte for byte what earlier releases stored (so
// their views read the same and a replay writes the same bytes), and each decodes to what was
// encoded.
#include "views/tables.h"

#include <doctest/doctest.h>

namespace contacts {
namespace {

const WorkspaceId kWs(2);

TEST_CASE("tables: an API key is stored as the API serves it, in this field order") {
  ApiKey key{41, kWs, "ci \"bot\"", "lnx_abcdefgh", Role::kAdmin, true, 1711600000};
  CHECK(
      encode(key) ==
      R"({"id":41,"name":"ci \"bot\"","key_prefix":"lnx_abcdefgh","role":"admin","is_active":true,"created_at":1711600000})");
  auto decoded = decode_api_key(kWs, encode(key));
  REQUIRE(decoded.has_value());
  CHECK(decoded->id == 41);
  CHECK(decoded->workspace_id == kWs);
  CHECK(decoded->name == key.name);
  CHECK(decoded->key_prefix == key.key_prefix);
  CHECK(decoded->role == Role::kAdmin);
  CHECK(decoded->is_active);
  CHECK(decoded->created_at == 1711600000);
  CHECK_FALSE(decode_api_key(kWs, "not json").has_value());
  CHECK_FALSE(decode_api_key(kWs, "[1]").has_value());
}

TEST_CASE("tables: an API key's hash points at its workspace and id in 16 bytes") {
  std::string bytes = encode(ApiKeyRef{WorkspaceId(7), 1234});
  CHECK(bytes.size() == 16);
  auto ref = decode_api_key_ref(bytes);
  REQUIRE(ref.has_value());
  CHECK(ref->workspace_id == WorkspaceId(7));
  CHECK(ref->key_id == 1234);
  CHECK_FALSE(decode_api_key_ref("short").has_value());
}

TEST_CASE(
    "tables: a webhook is stored with its secret and served without it; events in canonical "
    "order") {
  Webhook hook{12,
               kWs,
               "CRM",
               "https://crm.example.com/in",
               kContactDeleted | kContactCreated,
               true,
               1711600000,
               "whsec_abc",
               "",
               0};
  CHECK(
      encode(hook) ==
      R"({"id":12,"name":"CRM","url":"https://crm.example.com/in","events":["contact.created","contact.deleted"],"is_active":true,"created_at":1711600000,"secret":"whsec_abc"})");
  CHECK(
      encode(hook, WithSecret::kNo) ==
      R"({"id":12,"name":"CRM","url":"https://crm.example.com/in","events":["contact.created","contact.deleted"],"is_active":true,"created_at":1711600000})");
  auto decoded = decode_webhook(kWs, encode(hook));
  REQUIRE(decoded.has_value());
  CHECK(decoded->events == (kContactCreated | kContactDeleted));
  CHECK(decoded->url == hook.url);
  CHECK(decoded->secret == "whsec_abc");
  CHECK(decoded->is_active);
  CHECK(encode(*decoded) == encode(hook));
}

TEST_CASE(
    "tables: a rotated webhook is stored with its previous secret, which no answer of the API "
    "shows") {
  Webhook hook{12,
               kWs,
               "CRM",
               "https://crm.example.com/in",
               kContactCreated,
               false,
               1711600000,
               "whsec_new",
               "whsec_old",
               1711686400};
  auto decoded = decode_webhook(kWs, encode(hook));
  REQUIRE(decoded.has_value());
  CHECK_FALSE(decoded->is_active);
  CHECK(decoded->previous_secret == "whsec_old");
  CHECK(decoded->previous_secret_expires_at == 1711686400);
  CHECK(encode(hook, WithSecret::kYes).find("whsec_old") == std::string::npos);
  CHECK(encode(hook, WithSecret::kYes).find("whsec_new") != std::string::npos);
  CHECK(encode(hook, WithSecret::kNo).find("whsec_") == std::string::npos);
}

TEST_CASE("tables: an audit entry keeps its actor and details as written") {
  AuditEntry entry{99,
                   kWs,
                   "contact.delete",
                   Actor{7, 0},
                   "contact",
                   18,
                   nlohmann::ordered_json{{"name", "Zoë"}, {"email", nullptr}},
                   1711600000};
  const std::string stored =
      R"({"id":99,"action":"contact.delete","actor":{"user_id":7},"target_type":"contact","target_id":18,"details":{"name":"Zoë","email":null},"created_at":1711600000})";
  CHECK(encode(entry) == stored);
  auto decoded = decode_audit_entry(kWs, stored);
  REQUIRE(decoded.has_value());
  CHECK(encode(*decoded) == stored);
  entry.actor = Actor{0, 3};
  CHECK(encode(entry).find(R"("actor":{"api_key_id":3})") != std::string::npos);
  entry.actor = Actor{};
  CHECK(encode(entry).find(R"("actor":null)") != std::string::npos);
  CHECK(encode(*decode_audit_entry(kWs, encode(entry))) == encode(entry));
}

}  // namespace
}  // namespace contacts
