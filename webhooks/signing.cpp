#include "webhooks/signing.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/text.h"

namespace contacts {

std::string new_webhook_secret() { return "whsec_" + base64_encode(random_bytes(32), false, true); }

std::string iso8601_millis(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buf;
}

std::string delivery_body(std::string_view event, std::string_view timestamp, int64_t contact_id,
                          std::string_view name, const std::optional<std::string>& email) {
  nlohmann::ordered_json body = {{"event", event},
                                 {"timestamp", timestamp},
                                 {"data",
                                  {{"id", contact_id},
                                   {"name", name},
                                   {"email", email ? nlohmann::ordered_json(*email) : nullptr}}}};
  return body.dump();
}

std::string test_event_body(std::string_view timestamp, int64_t webhook_id) {
  nlohmann::ordered_json body = {
      {"event", "webhook.test"}, {"timestamp", timestamp}, {"data", {{"webhook_id", webhook_id}}}};
  return body.dump();
}

std::string x_webhook_signature(std::string_view secret, std::string_view body) {
  return hex_encode(hmac_sha256(secret, body));
}

std::string standard_webhook_signature(std::string_view secret, std::string_view message_id,
                                       int64_t timestamp, std::string_view body) {
  std::string_view encoded = secret.rfind("whsec_", 0) == 0 ? secret.substr(6) : secret;
  std::string key;
  if (!base64_decode(encoded, key)) key = std::string(encoded);
  std::string signed_content =
      std::string(message_id) + "." + std::to_string(timestamp) + "." + std::string(body);
  return "v1," + base64_encode(hmac_sha256(key, signed_content), false, true);
}

}  // namespace contacts
