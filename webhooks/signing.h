// The format of a webhook delivery (DESIGN.md section 7): secrets, body and signatures.
// Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace contacts {

// "whsec_" + base64 of 32 random bytes.
std::string new_webhook_secret();

// 2024-03-28T00:40:00.000Z for unix seconds.
std::string iso8601_millis(int64_t unix_seconds);

// {"event":..., "timestamp":..., "data":{"id","name","email"}}: the raw body, signed as is.
std::string delivery_body(std::string_view event, std::string_view timestamp, int64_t contact_id,
                          std::string_view name, const std::optional<std::string>& email);

// {"event":"webhook.test", "timestamp":..., "data":{"webhook_id"}}: a test event's body.
std::string test_event_body(std::string_view timestamp, int64_t webhook_id);

// X-Webhook-Signature: hex HMAC-SHA256 keyed with the whole secret string, of the raw body.
std::string x_webhook_signature(std::string_view secret, std::string_view body);

// webhook-signature (Standard Webhooks): "v1," + base64 HMAC-SHA256 keyed with the base64
// decoding of the secret after "whsec_", of "<id>.<timestamp>.<body>".
std::string standard_webhook_signature(std::string_view secret, std::string_view message_id,
                                       int64_t timestamp, std::string_view body);

}  // namespace contacts
