// The JSON Schemas in schemas/ and the typed decoder state the same rules: every sample
// below gets the same verdict from valijson (against schemas/<type>.json) and from
// decode_command. The few rules a schema cannot express are pinned separately at the end.
#define VALIJSON_USE_EXCEPTIONS 1

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>
#include <vector>

#include "core/command_codec.h"

namespace contacts {
namespace {

using nlohmann::json;

constexpr const char* kTypes[] = {"room_join",           "booking",
                                  "contact_delete",      "member_upsert",
                                  "member_remove",       "room_delete",
                                  "booking_page_delete", "api_key_create",
                                  "api_key_revoke",      "webhook_create",
                                  "webhook_delete",      "contact_erase",
                                  "webhook_update",      "webhook_rotate_secret",
                                  "webhook_test",        "webhook_redeliver"};
constexpr uint64_t kMaxSafe = 9007199254740991ULL;

// Loads every schemas/<type>.json once.
class Schemas {
 public:
  Schemas() {
    for (const char* type : kTypes) {
      std::ifstream in(std::string(CONTACTS_SCHEMA_DIR) + "/" + type + ".json");
      REQUIRE_MESSAGE(in.good(), "missing schema for ", type);
      std::stringstream text;
      text << in.rdbuf();
      json document = json::parse(text.str());
      auto schema = std::make_unique<valijson::Schema>();
      valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
      valijson::adapters::NlohmannJsonAdapter adapter(document);
      parser.populateSchema(adapter, *schema);
      schemas_[type] = std::move(schema);
    }
  }

  bool known(const std::string& type) const { return schemas_.count(type) > 0; }

  // True when `text` is a JSON document that schemas/<type>.json accepts.
  bool accepts(const std::string& type, const std::string& text) const {
    json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded()) return false;
    valijson::Validator validator;  // strict types, like the decoder
    valijson::adapters::NlohmannJsonAdapter adapter(document);
    return validator.validate(*schemas_.at(type), adapter, nullptr);
  }

 private:
  std::map<std::string, std::unique_ptr<valijson::Schema>> schemas_;
};

const Schemas& schemas() {
  static const Schemas instance;
  return instance;
}

json participant() { return {{"name", "Alice Martin"}, {"email", "alice@example.com"}}; }

// A valid command of `type`, every optional field present.
json valid(const std::string& type) {
  json c = {{"type", type},
            {"command_id", type + "-1"},
            {"workspace_id", 2},
            {"occurred_at", 1711500000}};
  if (type == "room_join") {
    c["participant"] = participant();
    c["room"] = {{"id", 5}, {"name", "team-standup-1234"}, {"display_name", "Team Standup"}};
    c["metadata"] = {{"device", "web"}};
  } else if (type == "booking") {
    c["participant"] = participant();
    c["booking_page"] = {{"id", 3}, {"title", "30-min Intro Call"}, {"slug", "intro-call"}};
    c["metadata"] = nullptr;
  } else if (type == "contact_delete") {
    c["contact_id"] = 1;
    c["actor"] = {{"user_id", 7}};
  } else if (type == "member_upsert") {
    c["user_id"] = 7;
    c["role"] = "owner";
  } else if (type == "member_remove") {
    c["user_id"] = 7;
  } else if (type == "room_delete") {
    c["room_id"] = 5;
  } else if (type == "booking_page_delete") {
    c["booking_page_id"] = 3;
  } else if (type == "api_key_create") {
    c["name"] = "CI key";
    c["role"] = "member";
    c["key_hash"] = std::string(64, 'a');
    c["key_prefix"] = "lnx_AbCdEfGh";
    c["actor"] = {{"user_id", 7}};
  } else if (type == "api_key_revoke") {
    c["key_id"] = 11;
    c["actor"] = {{"api_key_id", 4}};
  } else if (type == "webhook_create") {
    c["name"] = "CRM sync";
    c["url"] = "https://hooks.example.com/contacts?x=1";
    c["events"] = {"contact.created", "contact.deleted"};
    c["secret"] = "whsec_" + std::string(43, 'A') + "=";
    c["actor"] = {{"user_id", 7}};
  } else if (type == "webhook_delete") {
    c["webhook_id"] = 12;
    c["actor"] = {{"user_id", 7}};
  } else if (type == "contact_erase") {
    c["email"] = "alice@example.com";
    c["actor"] = {{"user_id", 7}};
  } else if (type == "webhook_update") {
    c["webhook_id"] = 12;
    c["is_active"] = false;
    c["actor"] = {{"user_id", 7}};
  } else if (type == "webhook_rotate_secret") {
    c["webhook_id"] = 12;
    c["secret"] = "whsec_" + std::string(43, 'B') + "=";
    c["overlap_seconds"] = 86400;
    c["actor"] = {{"api_key_id", 3}};
  } else if (type == "webhook_test") {
    c["webhook_id"] = 12;
    c["actor"] = {{"user_id", 7}};
  } else if (type == "webhook_redeliver") {
    c["webhook_id"] = 12;
    c["message_id"] = "msg_9007199254740991";
    c["actor"] = {{"user_id", 7}};
  }
  return c;
}

struct Sample {
  std::string type;  // the schema to check against
  std::string text;
  bool valid;
};

Sample ok(const std::string& type) { return {type, valid(type).dump(), true}; }
// valid(type) with the value at JSON pointer `at` replaced (or added).
Sample with(const std::string& type, const std::string& at, json value, bool is_valid) {
  json c = valid(type);
  c[json::json_pointer(at)] = std::move(value);
  return {type, c.dump(), is_valid};
}
Sample without(const std::string& type, const std::string& at, bool is_valid) {
  json c = valid(type);
  json::json_pointer pointer(at);
  c.at(pointer.parent_pointer()).erase(pointer.back());
  return {type, c.dump(), is_valid};
}
// valid(type) with the raw JSON text `raw` spliced in as the value at top-level `field`.
Sample raw(const std::string& type, const std::string& field, const std::string& raw_value,
           bool is_valid) {
  json c = valid(type);
  c[field] = "@@";
  std::string text = c.dump();
  text.replace(text.find("\"@@\""), 4, raw_value);
  return {type, text, is_valid};
}

std::string repeat(const std::string& unit, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += unit;
  return s;
}

std::vector<Sample> samples() {
  const std::string rj = "room_join", bk = "booking", cd = "contact_delete", mu = "member_upsert",
                    mr = "member_remove", rd = "room_delete", pd = "booking_page_delete",
                    kc = "api_key_create", kr = "api_key_revoke", wc = "webhook_create",
                    wd = "webhook_delete", wu = "webhook_update", ws = "webhook_rotate_secret",
                    wt = "webhook_test", wr = "webhook_redeliver";
  std::vector<Sample> s;
  for (const char* type : kTypes) s.push_back(ok(type));
  // Common fields.
  s.push_back(without(rj, "/occurred_at", true));
  s.push_back(with(rj, "/occurred_at", 0, true));
  s.push_back(with(rj, "/occurred_at", kMaxSafe, true));
  s.push_back(with(rj, "/occurred_at", kMaxSafe + 1, false));
  s.push_back(with(rj, "/occurred_at", -1, false));
  s.push_back(with(rj, "/occurred_at", nullptr, false));
  s.push_back(with(rj, "/occurred_at", "1711500000", false));
  s.push_back(with(rj, "/occurred_at", 1.5, false));
  s.push_back(with(rj, "/command_id", std::string(128, 'c'), true));
  s.push_back(with(rj, "/command_id", std::string(129, 'c'), false));
  s.push_back(with(rj, "/command_id", repeat("é", 128), true));
  s.push_back(with(rj, "/command_id", repeat("é", 129), false));
  s.push_back(with(rj, "/command_id", "", false));
  s.push_back(with(rj, "/command_id", " ", true));
  s.push_back(with(rj, "/command_id", 17, false));
  s.push_back(without(bk, "/command_id", false));
  s.push_back(with(rj, "/workspace_id", 1, true));
  s.push_back(with(rj, "/workspace_id", kMaxSafe, true));
  s.push_back(with(rj, "/workspace_id", kMaxSafe + 1, false));
  s.push_back(with(rj, "/workspace_id", 0, false));
  s.push_back(with(rj, "/workspace_id", -1, false));
  s.push_back(with(rj, "/workspace_id", 2.5, false));
  s.push_back(with(rj, "/workspace_id", "2", false));
  s.push_back(with(rj, "/workspace_id", nullptr, false));
  s.push_back(with(rj, "/workspace_id", true, false));
  s.push_back(raw(rj, "workspace_id", "2.0", false));
  s.push_back(raw(rj, "workspace_id", "1e3", false));
  s.push_back(raw(rj, "workspace_id", "18446744073709551615", false));
  s.push_back(raw(rj, "workspace_id", "9223372036854775808", false));
  s.push_back(raw(rj, "workspace_id", "100000000000000000000000", false));
  s.push_back(without(cd, "/workspace_id", false));
  s.push_back(with(rj, "/extra", 1, true));
  // The evolution policy (schemas/README.md): fields of a newer producer are accepted; a
  // version newer than this build's is not.
  s.push_back(with(rj, "/version", 1, true));
  s.push_back(with(rj, "/version", 2, false));
  s.push_back(with(rj, "/version", 0, false));
  s.push_back(with(rj, "/version", "1", false));
  s.push_back(with(mr, "/version", 2, false));
  s.push_back(with(mr, "/role", "owner", true));
  s.push_back(with(rj, "/type", "booking", false));  // a booking without booking_page
  s.push_back({rj, "[]", false});
  s.push_back({rj, "\"room_join\"", false});
  s.push_back({rj, "{\"type\":\"room_join\",", false});
  // A sealed participant (privacy/sealing.h).
  const json sealed = {{"sealed", "AAAA"},
                       {"subject", std::string(64, 'b')},
                       {"key_id", std::string(32, 'a')},
                       {"email_index", std::string(64, 'b')}};
  auto sealed_visit = [&](json participant, bool with_metadata, bool is_valid) {
    json c = valid(bk);
    c["participant"] = std::move(participant);
    if (!with_metadata) c.erase("metadata");
    if (with_metadata) c["metadata"] = {{"device", "web"}};
    return Sample{bk, c.dump(), is_valid};
  };
  s.push_back(sealed_visit(sealed, false, true));
  s.push_back(sealed_visit(sealed, true, false));  // the metadata is sealed with it
  for (const char* field : {"sealed", "subject", "key_id"}) {
    json p = sealed;
    p.erase(field);
    s.push_back(sealed_visit(p, false, false));
  }
  for (auto [field, value] :
       std::vector<std::pair<std::string, json>>{{"name", "Alice"},
                                                 {"email", "a@x"},
                                                 {"subject", "Upper"},
                                                 {"subject", ""},
                                                 {"key_id", "abc"},
                                                 {"key_id", std::string(32, 'A')},
                                                 {"email_index", std::string(63, 'b')},
                                                 {"sealed", ""},
                                                 {"sealed", 5}}) {
    json p = sealed;
    p[field] = value;
    s.push_back(sealed_visit(p, false, false));
  }
  {
    json p = sealed;
    p["email_index"] = nullptr;
    s.push_back(sealed_visit(p, false, false));  // a subject of an email without its index
    p["subject"] = "anon-" + std::string(32, '0');
    s.push_back(sealed_visit(p, false, true));
    p.erase("email_index");
    s.push_back(sealed_visit(p, false, true));
    p["email_index"] = std::string(64, 'b');
    s.push_back(sealed_visit(p, false, false));  // anonymous, with an email index
  }
  // contact_erase: exactly one of contact_id, email, email_index.
  const std::string ce = "contact_erase";
  s.push_back(without(ce, "/email", false));
  s.push_back(with(ce, "/contact_id", 3, false));
  s.push_back(with(ce, "/email", "   ", false));
  s.push_back(with(ce, "/email", 5, false));
  {
    json c = valid(ce);
    c.erase("email");
    c["contact_id"] = 3;
    s.push_back({ce, c.dump(), true});
    c.erase("contact_id");
    c["email_index"] = std::string(64, 'c');
    s.push_back({ce, c.dump(), true});
    c["email_index"] = std::string(64, 'C');
    s.push_back({ce, c.dump(), false});
  }
  // participant
  s.push_back(without(rj, "/participant", false));
  s.push_back(with(rj, "/participant", nullptr, false));
  s.push_back(with(rj, "/participant", "Alice", false));
  s.push_back(with(rj, "/participant/phone", "+33", true));
  s.push_back(with(rj, "/participant/name", std::string(200, 'n'), true));
  s.push_back(with(rj, "/participant/name", std::string(201, 'n'), false));
  s.push_back(with(rj, "/participant/name", repeat("é", 200), true));
  s.push_back(with(rj, "/participant/name", repeat("é", 201), false));
  s.push_back(with(rj, "/participant/name", " Alice ", true));
  s.push_back(with(rj, "/participant/name", "", false));
  s.push_back(with(rj, "/participant/name", "   ", false));
  s.push_back(with(rj, "/participant/name", "\t\r\n", false));
  s.push_back(with(rj, "/participant/name", nullptr, false));
  s.push_back(with(rj, "/participant/name", 5, false));
  s.push_back(without(bk, "/participant/name", false));
  s.push_back(with(rj, "/participant/email", nullptr, true));
  s.push_back(without(bk, "/participant/email", true));
  s.push_back(with(rj, "/participant/email", "", true));
  s.push_back(with(rj, "/participant/email", std::string(320, 'e'), true));
  s.push_back(with(rj, "/participant/email", std::string(321, 'e'), false));
  s.push_back(with(rj, "/participant/email", 5, false));
  s.push_back(with(rj, "/participant/email", json::array(), false));
  // room
  s.push_back(without(rj, "/room", false));
  s.push_back(with(rj, "/room", json::array(), false));
  s.push_back(with(rj, "/room/id", 0, false));
  s.push_back(with(rj, "/room/id", "5", false));
  s.push_back(without(rj, "/room/id", false));
  s.push_back(with(rj, "/room/name", "", false));
  s.push_back(with(rj, "/room/name", " ", true));  // labels are not trimmed
  s.push_back(with(rj, "/room/name", std::string(200, 'r'), true));
  s.push_back(with(rj, "/room/name", std::string(201, 'r'), false));
  s.push_back(without(rj, "/room/name", false));
  s.push_back(without(rj, "/room/display_name", true));
  s.push_back(with(rj, "/room/display_name", nullptr, true));
  s.push_back(with(rj, "/room/display_name", "", true));
  s.push_back(with(rj, "/room/display_name", std::string(200, 'd'), true));
  s.push_back(with(rj, "/room/display_name", std::string(201, 'd'), false));
  s.push_back(with(rj, "/room/display_name", 3, false));
  s.push_back(with(rj, "/room/slug", "x", true));
  // metadata
  s.push_back(without(rj, "/metadata", true));
  s.push_back(with(rj, "/metadata", nullptr, true));
  s.push_back(with(rj, "/metadata", json::array({1, "two", nullptr}), true));
  s.push_back(with(rj, "/metadata", "just text", true));
  s.push_back(with(bk, "/metadata", 42, true));
  // booking_page
  s.push_back(without(bk, "/booking_page", false));
  s.push_back(with(bk, "/room", valid(rj)["room"], true));
  s.push_back(with(bk, "/booking_page/id", -1, false));
  s.push_back(with(bk, "/booking_page/title", "", false));
  s.push_back(with(bk, "/booking_page/title", nullptr, false));
  s.push_back(with(bk, "/booking_page/title", std::string(200, 't'), true));
  s.push_back(with(bk, "/booking_page/slug", std::string(201, 's'), false));
  s.push_back(without(bk, "/booking_page/slug", false));
  s.push_back(with(bk, "/booking_page/display_name", nullptr, true));
  // actor (contact_delete, api_key_create, api_key_revoke)
  s.push_back(with(cd, "/actor", {{"api_key_id", 4}}, true));
  s.push_back(with(cd, "/actor", nullptr, true));
  s.push_back(without(cd, "/actor", true));
  s.push_back(with(cd, "/actor", json::object(), false));
  s.push_back(with(cd, "/actor", {{"user_id", 7}, {"api_key_id", 4}}, false));
  s.push_back(with(cd, "/actor", {{"user_id", 0}}, false));
  s.push_back(with(cd, "/actor", {{"user_id", nullptr}}, false));
  s.push_back(with(cd, "/actor", {{"user_id", 7}, {"ip", "1.2.3.4"}}, true));
  s.push_back(with(cd, "/actor", "7", false));
  s.push_back(with(kr, "/actor", {{"user_id", 7}, {"api_key_id", 4}}, false));
  s.push_back(with(kc, "/actor", json::object(), false));
  // ids of the other types
  s.push_back(with(cd, "/contact_id", 0, false));
  s.push_back(with(cd, "/contact_id", "1", false));
  s.push_back(without(cd, "/contact_id", false));
  s.push_back(without(mu, "/user_id", false));
  s.push_back(with(mr, "/user_id", kMaxSafe + 1, false));
  s.push_back(with(rd, "/room_id", 0, false));
  s.push_back(without(rd, "/room_id", false));
  s.push_back(with(pd, "/booking_page_id", -5, false));
  s.push_back(with(pd, "/room_id", 5, true));
  s.push_back(with(kr, "/key_id", 0, false));
  s.push_back(without(kr, "/key_id", false));
  // roles
  s.push_back(with(mu, "/role", "admin", true));
  s.push_back(with(mu, "/role", "member", true));
  s.push_back(with(mu, "/role", "Owner", false));
  s.push_back(with(mu, "/role", "none", false));
  s.push_back(with(mu, "/role", "superuser-of-everything", false));
  s.push_back(with(mu, "/role", nullptr, false));
  s.push_back(with(mu, "/role", 3, false));
  s.push_back(without(mu, "/role", false));
  s.push_back(with(kc, "/role", "owner", true));
  s.push_back(with(kc, "/role", "viewer", false));
  // api_key_create
  s.push_back(without(kc, "/actor", true));
  s.push_back(with(kc, "/name", " CI key ", true));
  s.push_back(with(kc, "/name", std::string(100, 'k'), true));
  s.push_back(with(kc, "/name", std::string(101, 'k'), false));
  s.push_back(with(kc, "/name", "", false));
  s.push_back(with(kc, "/name", "  ", false));
  s.push_back(without(kc, "/name", false));
  s.push_back(with(kc, "/key_hash", "0123456789abcdef" + std::string(48, 'f'), true));
  s.push_back(with(kc, "/key_hash", std::string(64, 'A'), false));
  s.push_back(with(kc, "/key_hash", std::string(63, 'a'), false));
  s.push_back(with(kc, "/key_hash", std::string(65, 'a'), false));
  s.push_back(with(kc, "/key_hash", std::string(63, 'a') + "g", false));
  s.push_back(with(kc, "/key_hash", std::string(64, 'a') + "\n", false));
  s.push_back(with(kc, "/key_hash", "", false));
  s.push_back(without(kc, "/key_hash", false));
  s.push_back(with(kc, "/key_prefix", std::string(16, 'p'), true));
  s.push_back(with(kc, "/key_prefix", std::string(17, 'p'), false));
  s.push_back(with(kc, "/key_prefix", "", false));
  s.push_back(without(kc, "/key_prefix", false));
  s.push_back(with(kc, "/user_id", 7, true));
  // webhook_create
  s.push_back(without(wc, "/actor", true));
  s.push_back(with(wc, "/actor", {{"api_key_id", 3}}, true));
  s.push_back(with(wc, "/name", std::string(100, 'w'), true));
  s.push_back(with(wc, "/name", std::string(101, 'w'), false));
  s.push_back(with(wc, "/name", " ", false));
  s.push_back(without(wc, "/name", false));
  s.push_back(with(wc, "/url", "http://127.0.0.1:9000/hook", true));
  s.push_back(with(wc, "/url", "https://" + std::string(2040, 'h'), true));
  s.push_back(with(wc, "/url", "https://" + std::string(2041, 'h'), false));
  s.push_back(with(wc, "/url", "ftp://example.com/", false));
  s.push_back(with(wc, "/url", "HTTP://example.com/", false));
  s.push_back(with(wc, "/url", "https://", false));
  s.push_back(with(wc, "/url", "https://exa mple.com/", false));
  s.push_back(with(wc, "/url", "https://example.com/\u00e9", false));
  s.push_back(with(wc, "/url", "example.com", false));
  s.push_back(with(wc, "/url", 5, false));
  s.push_back(without(wc, "/url", false));
  s.push_back(with(wc, "/events", {"contact.updated"}, true));
  s.push_back(with(wc, "/events", {"contact.created", "contact.updated", "contact.deleted"}, true));
  s.push_back(with(wc, "/events", json::array(), false));
  s.push_back(with(wc, "/events", {"contact.created", "contact.created"}, false));
  s.push_back(with(wc, "/events", {"contact.merged"}, false));
  s.push_back(with(wc, "/events", {1}, false));
  s.push_back(with(wc, "/events", "contact.created", false));
  s.push_back(without(wc, "/events", false));
  s.push_back(with(wc, "/secret", "whsec_abc+/" + std::string(38, '9') + "=", true));
  s.push_back(with(wc, "/secret", "whsec_" + std::string(44, 'A'), false));
  s.push_back(with(wc, "/secret", "whsec_" + std::string(42, 'A') + "==", false));
  s.push_back(with(wc, "/secret", "whsec_" + std::string(43, '-') + "=", false));
  s.push_back(with(wc, "/secret", "wh_" + std::string(43, 'A') + "=", false));
  s.push_back(without(wc, "/secret", false));
  s.push_back(with(wc, "/webhook_id", 1, true));
  // webhook_delete
  s.push_back(without(wd, "/actor", true));
  s.push_back(with(wd, "/webhook_id", 0, false));
  s.push_back(with(wd, "/webhook_id", "12", false));
  s.push_back(without(wd, "/webhook_id", false));
  s.push_back(with(wd, "/url", "https://example.com/", true));
  // webhook_update
  s.push_back(with(wu, "/is_active", true, true));
  s.push_back(with(wu, "/is_active", 1, false));
  s.push_back(with(wu, "/is_active", "false", false));
  s.push_back(with(wu, "/is_active", nullptr, false));
  s.push_back(without(wu, "/is_active", false));
  s.push_back(without(wu, "/webhook_id", false));
  s.push_back(without(wu, "/actor", true));
  // webhook_rotate_secret
  s.push_back(with(ws, "/overlap_seconds", 0, true));
  s.push_back(with(ws, "/overlap_seconds", 604800, true));
  s.push_back(with(ws, "/overlap_seconds", 604801, false));
  s.push_back(with(ws, "/overlap_seconds", -1, false));
  s.push_back(with(ws, "/overlap_seconds", "60", false));
  s.push_back(without(ws, "/overlap_seconds", false));
  s.push_back(with(ws, "/secret", "whsec_" + std::string(44, 'A'), false));
  s.push_back(without(ws, "/secret", false));
  s.push_back(with(ws, "/webhook_id", 0, false));
  // webhook_test
  s.push_back(without(wt, "/actor", true));
  s.push_back(with(wt, "/webhook_id", "12", false));
  s.push_back(without(wt, "/webhook_id", false));
  // webhook_redeliver
  s.push_back(with(wr, "/message_id", "msg_1", true));
  s.push_back(with(wr, "/message_id", "msg_0", false));
  s.push_back(with(wr, "/message_id", "msg_01", false));
  s.push_back(with(wr, "/message_id", "msg_", false));
  s.push_back(with(wr, "/message_id", "msg_12a", false));
  s.push_back(with(wr, "/message_id", "MSG_12", false));
  s.push_back(with(wr, "/message_id", "msg_" + std::string(17, '1'), false));
  s.push_back(with(wr, "/message_id", 12, false));
  s.push_back(without(wr, "/message_id", false));
  s.push_back(without(wr, "/webhook_id", false));
  return s;
}

TEST_CASE("schemas and decode_command agree on every sample") {
  int checked = 0;
  for (const Sample& sample : samples()) {
    REQUIRE(schemas().known(sample.type));
    bool by_schema = schemas().accepts(sample.type, sample.text);
    auto decoded = decode_command(sample.text);
    INFO("schema ", sample.type, ": ", sample.text);
    INFO("decoder says: ", decoded.ok() ? std::string("ok") : decoded.status().message());
    CHECK_MESSAGE(by_schema == decoded.ok(), "schema and decoder disagree");
    CHECK_MESSAGE(by_schema == sample.valid, "the schema's verdict is not the sample's");
    CHECK_MESSAGE(decoded.ok() == sample.valid, "the decoder's verdict is not the sample's");
    if (!decoded.ok()) CHECK(decoded.status().code() == Code::kInvalid);
    ++checked;
  }
  CHECK(checked >= 60);
}

TEST_CASE("decode_command refuses command types that have no schema") {
  for (const char* type : {"room_leave", "", "ROOM_JOIN", "room_join ", "webhooks"}) {
    CHECK_FALSE(schemas().known(type));
    json c = valid("room_join");
    c["type"] = type;
    auto decoded = decode_command(c.dump());
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.status().message().find("type") != std::string::npos);
  }
  json c = valid("room_join");
  c.erase("type");
  CHECK_FALSE(decode_command(c.dump()).ok());
  c["type"] = 1;
  CHECK_FALSE(decode_command(c.dump()).ok());
}

// What a schema cannot state (schemas/README.md): each gap, pinned so a change shows up here.
TEST_CASE("metadata size and nesting limits are the decoder's alone") {
  SUBCASE("16 KiB of serialized metadata is the most accepted") {
    Sample fits = with("room_join", "/metadata", std::string(16 * 1024 - 2, 'm'), true);
    Sample over = with("room_join", "/metadata", std::string(16 * 1024 - 1, 'm'), false);
    CHECK(schemas().accepts(fits.type, fits.text));
    CHECK(decode_command(fits.text).ok());
    CHECK(schemas().accepts(over.type, over.text));
    CHECK_FALSE(decode_command(over.text).ok());
  }
  SUBCASE("64 levels of nesting are the most accepted, the command object included") {
    auto nested = [](int levels) { return repeat("[", levels) + repeat("]", levels); };
    Sample fits = raw("room_join", "metadata", nested(63), true);
    Sample over = raw("room_join", "metadata", nested(64), false);
    CHECK(schemas().accepts(fits.type, fits.text));
    CHECK(decode_command(fits.text).ok());
    CHECK(schemas().accepts(over.type, over.text));
    CHECK_FALSE(decode_command(over.text).ok());
  }
}

TEST_CASE(
    "a near miss of a known field is a typo to the decoder answering producers, a new field to "
    "the schema and to the fold") {
  struct Typo {
    const char* type;
    const char* pointer;
    const char* reason;
  };
  const Typo typos[] = {
      {"room_join", "/ocurred_at", R"(unknown field "ocurred_at" (did you mean "occurred_at"?))"},
      {"room_join", "/metadta", R"(unknown field "metadta" (did you mean "metadata"?))"},
      {"room_join", "/participant/emial",
       R"(unknown field "participant.emial" (did you mean "participant.email"?))"},
      {"room_join", "/room/displayName",
       R"(unknown field "room.displayName" (did you mean "room.display_name"?))"},
      {"booking", "/booking_page/titel",
       R"(unknown field "booking_page.titel" (did you mean "booking_page.title"?))"},
      {"member_upsert", "/Role", R"(unknown field "Role" (did you mean "role"?))"},
      {"contact_delete", "/actor/userid",
       R"(unknown field "actor.userid" (did you mean "actor.user_id"?))"},
      {"member_remove", "/verison", R"(unknown field "verison" (did you mean "version"?))"},
  };
  for (const auto& typo : typos) {
    Sample sample = with(typo.type, typo.pointer, 1, false);
    INFO(sample.text);
    CHECK(schemas().accepts(sample.type, sample.text));
    auto decoded = decode_command(sample.text, UnknownFields::kRefuseTypos);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.status().message() == typo.reason);
    // The fold ignores it like any field it does not know.
    CHECK(decode_command(sample.text).ok());
  }
}

TEST_CASE("names are trimmed by the decoder before their length is checked, not by the schema") {
  Sample padded = with("room_join", "/participant/name", " " + std::string(200, 'n') + " ", true);
  CHECK_FALSE(schemas().accepts(padded.type, padded.text));
  auto decoded = decode_command(padded.text);
  REQUIRE(decoded.ok());
  CHECK(decoded->participant_name == std::string(200, 'n'));
}

TEST_CASE("Unicode-only blank names pass valijson's byte regex but not the decoder") {
  for (const char* blank : {"\u00a0", "\u3000", "\u2003 \u00a0", "\u0085", "\ufeff"}) {
    Sample sample = with("room_join", "/participant/name", blank, false);
    INFO(sample.text);
    CHECK(schemas().accepts(sample.type, sample.text));
    CHECK_FALSE(decode_command(sample.text).ok());
  }
}

TEST_CASE("valijson stops counting a string's length at a NUL character; the decoder does not") {
  Sample sample = with("room_join", "/command_id", std::string(1, '\0'), true);
  CHECK_FALSE(schemas().accepts(sample.type, sample.text));
  CHECK(decode_command(sample.text).ok());
}

}  // namespace
}  // namespace contacts
