// Hashes, MACs and randomness (OpenSSL): used by auth (JWTs, API keys) and webhook signing.
#pragma once

#include <string>
#include <string_view>

namespace contacts {

std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view message);  // raw bytes
bool constant_time_equal(std::string_view a, std::string_view b);
// `n` bytes from the OpenSSL CSPRNG.
std::string random_bytes(size_t n);

}  // namespace contacts
