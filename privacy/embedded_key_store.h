// EmbeddedKeyStore: the key store of the embedded log, its own RocksDB (DATA/keys). Writes sync
// the WAL: a key is on disk before a record sealed under it is appended, and a destroyed key is
// gone from the store before the delete that destroyed it commits. compact() flushes, so that the
// WAL holding the destroyed keys is dropped, and compacts the whole store so that no SST file
// holds them either. Safe from any thread.
#pragma once

#include <rocksdb/db.h>

#include <memory>
#include <mutex>
#include <unordered_map>

#include "core/metrics.h"
#include "privacy/key_store.h"

namespace contacts {

class EmbeddedKeyStore : public KeyStore {
 public:
  // Opens (or creates, with a new index key) the store at `path`. Refused with a clear message
  // when `master_key` does not open it.
  static Result<std::unique_ptr<EmbeddedKeyStore>> open(const std::string& path,
                                                        std::string master_key);
  ~EmbeddedKeyStore() override;

  const std::string& index_key() const override { return index_key_; }
  Result<DataKey> current_key(std::string_view subject) override;
  Result<DataKey> new_key(std::string_view subject) override;
  Result<std::vector<DataKey>> current_keys(const std::vector<std::string>& subjects) override;
  Result<std::vector<DataKey>> new_keys(const std::vector<std::string>& subjects) override;
  Result<std::optional<std::string>> find(std::string_view subject, std::string_view key_id,
                                          std::chrono::steady_clock::time_point) override;
  Status destroy(std::string_view subject, const std::vector<std::string>& key_ids) override;
  Status compact() override;
  // Writes a RocksDB checkpoint of the store into `dir` (which must not exist): every key stored
  // before the call (writes sync the WAL, which it copies), still wrapped by the master key.
  Status checkpoint(const std::string& dir) const;
  Result<size_t> rewrap() override;
  // What RocksDB reports of its size (/metrics).
  StoreSizes sizes() const { return store_sizes(*db_); }

 private:
  EmbeddedKeyStore(std::unique_ptr<rocksdb::DB> db, std::string master, std::string index_key);
  Result<DataKey> create_key(std::string_view subject);  // under mutex_
  // The subject's newest stored key, if any (under mutex_, through the cache).
  Result<std::optional<DataKey>> stored_current(std::string_view subject);
  void remember(const std::string& subject, const DataKey& key);  // under mutex_

  std::unique_ptr<rocksdb::DB> db_;
  const std::string master_;
  const std::string index_key_;
  std::mutex mutex_;
  // Unwrapped secrets by record name, and each subject's current key: bounded (cleared when
  // full), forgotten at destroy.
  std::unordered_map<std::string, std::string> secrets_;
  std::unordered_map<std::string, DataKey> current_;
};

}  // namespace contacts
