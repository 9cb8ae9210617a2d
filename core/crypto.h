// Hashes, MACs, randomness and an authenticated cipher (OpenSSL): auth (JWTs, API keys), webhook
// signing, and the sealing of personal data (privacy/).
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

namespace contacts {

// AES-256-GCM (an authenticated cipher): `key` is 32 bytes. The sealed form is a random 12-byte
// nonce, the ciphertext and the 16-byte tag; `aad` is authenticated with it, not stored in it.
inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kAeadOverheadBytes = 12 + 16;
std::string aead_seal(std::string_view key, std::string_view aad, std::string_view plaintext);
// The plaintext of `sealed`, or false when the key or the aad is not the one it was sealed with,
// or a byte of it was changed, or it is truncated.
bool aead_open(std::string_view key, std::string_view aad, std::string_view sealed,
               std::string& plaintext);

}  // namespace contacts
