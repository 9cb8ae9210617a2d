// Text helpers: UTF-8 checks, trimming, Unicode lower case and case folding, encodings.
// All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace contacts {

// True when `s` is well-formed UTF-8.
bool valid_utf8(std::string_view s);
// Number of code points in a valid UTF-8 string.
size_t utf8_length(std::string_view s);
// Drops leading and trailing ASCII and Unicode white space.
std::string_view trim(std::string_view s);
// Whether valid UTF-8 `s` can stand as a name: no NUL, and at least one character that shows
// (not white space, a control or a format character such as U+200B). Other controls inside a
// name that shows (a tab pasted from a spreadsheet) stay: records that hold them are in logs.
bool printable_name(std::string_view s);
// The credentials of an Authorization value with the scheme `Bearer` (any case, RFC 9110
// section 11.1) and one or more spaces; nothing for another scheme or an empty token.
std::optional<std::string_view> bearer_token(std::string_view authorization);
// Unicode lower case of each code point (how emails are normalized).
std::string unicode_lower(std::string_view s);
// An email as contacts are identified by it: trimmed, Unicode lower case; empty when blank.
std::string normalize_email(std::string_view email);
// Unicode case folding (how search compares text).
std::string casefold(std::string_view s);

// Kafka's murmur2 (as used by its default partitioner), so both buses place a key alike.
uint32_t murmur2(std::string_view data);

std::string base64_encode(std::string_view bytes, bool url_safe, bool pad);
// Accepts both alphabets, with or without padding; false on any other character.
bool base64_decode(std::string_view text, std::string& out);
// The one spelling of `base64_encode(bytes, true, false)`: the URL alphabet, no padding, no
// length that leaves a lone character, zero unused bits; false on any other text (a JWT's
// parts, so that one token has one spelling).
bool base64url_decode_canonical(std::string_view text, std::string& out);
std::string hex_encode(std::string_view bytes);
// Of lower- or upper-case hex digits, an even number of them (checked by the caller).
std::string hex_decode(std::string_view hex);

// True when the JSON text nests arrays/objects no deeper than `max_depth` (strings are
// skipped). Checked before parsing so hostile nesting cannot exhaust the parser's stack.
// Whether `name` is a near miss of `known` (and not equal to it): the same once ASCII case,
// '_' and '-' are ignored (displayName, display-name), or within one edit (an insertion,
// deletion, substitution or swap of neighbours) of a known name of up to 5 characters, two of a
// longer one. How the decoder tells a typo (refused) from a field a newer producer added.
bool near_miss(std::string_view name, std::string_view known);

bool json_depth_within(std::string_view text, int max_depth);

}  // namespace contacts
