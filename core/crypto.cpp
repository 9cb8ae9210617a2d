#include "core/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

#include "core/text.h"

namespace contacts {

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return hex_encode(std::string_view(reinterpret_cast<char*>(digest), len));
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
  // The context keyed last on this thread is kept (the blind index keys every email with the
  // same key): a copy of it per message skips the key's setup and OpenSSL's lookups.
  struct Keyed {
    std::string key;
    EVP_MAC_CTX* ctx = nullptr;
    ~Keyed() { EVP_MAC_CTX_free(ctx); }
  };
  thread_local Keyed keyed;
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!mac) throw std::runtime_error("OpenSSL has no HMAC");
  if (!keyed.ctx || keyed.key != key) {
    EVP_MAC_CTX_free(keyed.ctx);
    keyed.ctx = EVP_MAC_CTX_new(mac);
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest_name, 0),
                           OSSL_PARAM_construct_end()};
    if (!keyed.ctx || EVP_MAC_init(keyed.ctx, reinterpret_cast<const unsigned char*>(key.data()),
                                   key.size(), params) != 1)
      throw std::runtime_error("OpenSSL HMAC setup failed");
    keyed.key = std::string(key);
  }
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed.ctx);
  unsigned char digest[EVP_MAX_MD_SIZE];
  size_t len = 0;
  bool ok = ctx &&
            EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(message.data()),
                           message.size()) == 1 &&
            EVP_MAC_final(ctx, digest, &len, sizeof digest) == 1;
  EVP_MAC_CTX_free(ctx);
  if (!ok) throw std::runtime_error("OpenSSL HMAC failed");
  return std::string(reinterpret_cast<char*>(digest), len);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("the OpenSSL random generator failed");
  return out;
}

namespace {

// One cipher context per thread, reset by every init: the fold opens a sealed record per command.
EVP_CIPHER_CTX* cipher_context() {
  struct Holder {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    ~Holder() { EVP_CIPHER_CTX_free(ctx); }
  };
  thread_local Holder holder;
  if (!holder.ctx) throw std::runtime_error("OpenSSL could not allocate a cipher context");
  return holder.ctx;
}

// Fetched once: OpenSSL 3 looks an algorithm up at every init given the legacy EVP_aes_256_gcm().
const EVP_CIPHER* aes_256_gcm() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (!cipher) throw std::runtime_error("OpenSSL has no AES-256-GCM");
  return cipher;
}

// Nonces from a per-thread buffer of CSPRNG bytes, refilled 4 KiB at a time (one RAND_bytes call
// per 341 seals instead of one each).
void random_nonce(unsigned char* out) {
  thread_local unsigned char buffer[4092];
  thread_local size_t used = sizeof buffer;
  if (used + 12 > sizeof buffer) {
    if (RAND_bytes(buffer, sizeof buffer) != 1)
      throw std::runtime_error("the OpenSSL random generator failed");
    used = 0;
  }
  std::memcpy(out, buffer + used, 12);
  OPENSSL_cleanse(buffer + used, 12);
  used += 12;
}

constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string aead_seal(std::string_view key, std::string_view aad, std::string_view plaintext) {
  if (key.size() != kAeadKeyBytes) throw std::invalid_argument("an AES-256 key is 32 bytes");
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* data = reinterpret_cast<unsigned char*>(out.data());
  random_nonce(data);
  EVP_CIPHER_CTX* ctx = cipher_context();
  int len = 0;
  bool ok = EVP_EncryptInit_ex(ctx, aes_256_gcm(), nullptr, bytes(key), data) == 1 &&
            (aad.empty() || EVP_EncryptUpdate(ctx, nullptr, &len, bytes(aad),
                                              static_cast<int>(aad.size())) == 1) &&
            EVP_EncryptUpdate(ctx, data + kNonceBytes, &len, bytes(plaintext),
                              static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx, data + kNonceBytes + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagBytes,
                                data + kNonceBytes + plaintext.size()) == 1;
  if (!ok) throw std::runtime_error("AES-256-GCM encryption failed");
  return out;
}

bool aead_open(std::string_view key, std::string_view aad, std::string_view sealed,
               std::string& plaintext) {
  if (key.size() != kAeadKeyBytes || sealed.size() < kNonceBytes + kTagBytes) return false;
  const size_t n = sealed.size() - kNonceBytes - kTagBytes;
  plaintext.resize(n);
  EVP_CIPHER_CTX* ctx = cipher_context();
  int len = 0;
  // The tag is only read by the call, though its parameter is not const.
  auto* tag = const_cast<unsigned char*>(bytes(sealed.substr(kNonceBytes + n)));
  bool ok =
      EVP_DecryptInit_ex(ctx, aes_256_gcm(), nullptr, bytes(key), bytes(sealed)) == 1 &&
      (aad.empty() ||
       EVP_DecryptUpdate(ctx, nullptr, &len, bytes(aad), static_cast<int>(aad.size())) == 1) &&
      EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(plaintext.data()), &len,
                        bytes(sealed.substr(kNonceBytes)), static_cast<int>(n)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) == 1 &&
      EVP_DecryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(plaintext.data()) + len, &len) == 1;
  if (!ok) plaintext.clear();
  return ok;
}

}  // namespace contacts
