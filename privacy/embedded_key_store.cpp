#include "privacy/embedded_key_store.h"

#include <rocksdb/options.h>
#include <rocksdb/utilities/checkpoint.h>

#include <algorithm>
#include <limits>

#include "core/bytes.h"
#include "core/crypto.h"

namespace contacts {

namespace {

constexpr size_t kMaxCachedSecrets = 1 << 20;

Status rocks_status(const rocksdb::Status& s, std::string_view what) {
  return {Code::kUnavailable, "key store: " + std::string(what) + ": " + s.ToString()};
}

rocksdb::WriteOptions synced() {
  rocksdb::WriteOptions options;
  options.sync = true;
  return options;
}

}  // namespace

Result<std::unique_ptr<EmbeddedKeyStore>> EmbeddedKeyStore::open(const std::string& path,
                                                                 std::string master_key) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.keep_log_file_num = 2;
  rocksdb::DB* raw = nullptr;
  if (auto s = rocksdb::DB::Open(options, path, &raw); !s.ok())
    return rocks_status(s, "cannot open " + path);
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string wrapped;
  std::string index_key;
  auto s = db->Get(rocksdb::ReadOptions(), std::string(key_records::kIndexName), &wrapped);
  if (s.IsNotFound()) {
    index_key = random_bytes(kAeadKeyBytes);
    wrapped = key_records::wrap(master_key, key_records::kIndexName, index_key);
    if (auto w = db->Put(synced(), std::string(key_records::kIndexName), wrapped); !w.ok())
      return rocks_status(w, "cannot store the index key");
  } else if (!s.ok()) {
    return rocks_status(s, "cannot read the index key");
  } else {
    auto opened = key_records::unwrap(master_key, key_records::kIndexName, wrapped);
    if (!opened.ok()) return Status{Code::kInvalid, opened.status().message() + " (" + path + ")"};
    index_key = std::move(*opened);
  }
  return std::unique_ptr<EmbeddedKeyStore>(
      new EmbeddedKeyStore(std::move(db), std::move(master_key), std::move(index_key)));
}

EmbeddedKeyStore::EmbeddedKeyStore(std::unique_ptr<rocksdb::DB> db, std::string master,
                                   std::string index_key)
    : db_(std::move(db)), master_(std::move(master)), index_key_(std::move(index_key)) {}

EmbeddedKeyStore::~EmbeddedKeyStore() = default;

void EmbeddedKeyStore::remember(const std::string& subject, const DataKey& key) {
  if (current_.size() >= kMaxCachedSecrets) current_.clear();
  current_.insert_or_assign(subject, key);
  // The fold opens what was just sealed under it: in the same process (serve), from memory.
  if (secrets_.size() >= kMaxCachedSecrets) secrets_.clear();
  secrets_.insert_or_assign(key_records::data_key_name(subject, key.id), key.secret);
}

Result<DataKey> EmbeddedKeyStore::create_key(std::string_view subject) {
  DataKey key{key_records::new_key_id(), random_bytes(kAeadKeyBytes)};
  const std::string name = key_records::data_key_name(subject, key.id);
  if (auto s = db_->Put(synced(), name, key_records::wrap(master_, name, key.secret)); !s.ok())
    return rocks_status(s, "cannot store a key");
  remember(std::string(subject), key);
  return key;
}

Result<std::optional<DataKey>> EmbeddedKeyStore::stored_current(std::string_view subject) {
  if (auto it = current_.find(std::string(subject)); it != current_.end())
    return std::optional(it->second);
  // The subject's newest key: the last under its prefix (ids start with their creation time).
  const std::string prefix = key_records::subject_prefix(subject);
  const std::string end = bytes::prefix_end(prefix);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  it->SeekForPrev(end);
  if (it->Valid() && it->key().starts_with(prefix) && it->key() != rocksdb::Slice(end)) {
    std::string name = it->key().ToString();
    auto secret = key_records::unwrap(master_, name, it->value().ToStringView());
    if (!secret.ok()) return secret.status();
    DataKey key{name.substr(prefix.size()), std::move(*secret)};
    remember(std::string(subject), key);
    return std::optional(key);
  }
  if (!it->status().ok()) return rocks_status(it->status(), "cannot read");
  return std::optional<DataKey>();
}

Result<DataKey> EmbeddedKeyStore::current_key(std::string_view subject) {
  std::lock_guard lock(mutex_);
  auto stored = stored_current(subject);
  if (!stored.ok()) return stored.status();
  if (*stored) return **stored;
  return create_key(subject);
}

Result<std::vector<DataKey>> EmbeddedKeyStore::current_keys(
    const std::vector<std::string>& subjects) {
  std::lock_guard lock(mutex_);
  std::vector<DataKey> out(subjects.size());
  std::vector<size_t> missing;
  rocksdb::WriteBatch batch;
  std::unordered_map<std::string, size_t> created;  // subject -> index in out
  for (size_t i = 0; i < subjects.size(); ++i) {
    if (auto it = created.find(subjects[i]); it != created.end()) {
      out[i] = out[it->second];
      continue;
    }
    auto stored = stored_current(subjects[i]);
    if (!stored.ok()) return stored.status();
    if (*stored) {
      out[i] = std::move(**stored);
      continue;
    }
    out[i] = {key_records::new_key_id(), random_bytes(kAeadKeyBytes)};
    const std::string name = key_records::data_key_name(subjects[i], out[i].id);
    batch.Put(name, key_records::wrap(master_, name, out[i].secret));
    created.emplace(subjects[i], i);
  }
  if (batch.Count() > 0)
    if (auto s = db_->Write(synced(), &batch); !s.ok()) return rocks_status(s, "cannot store keys");
  for (const auto& [subject, i] : created) remember(subject, out[i]);
  return out;
}

Result<std::vector<DataKey>> EmbeddedKeyStore::new_keys(const std::vector<std::string>& subjects) {
  std::lock_guard lock(mutex_);
  std::vector<DataKey> out;
  rocksdb::WriteBatch batch;
  for (const auto& subject : subjects) {
    out.push_back({key_records::new_key_id(), random_bytes(kAeadKeyBytes)});
    const std::string name = key_records::data_key_name(subject, out.back().id);
    batch.Put(name, key_records::wrap(master_, name, out.back().secret));
  }
  if (batch.Count() > 0)
    if (auto s = db_->Write(synced(), &batch); !s.ok()) return rocks_status(s, "cannot store keys");
  for (size_t i = 0; i < subjects.size(); ++i) remember(subjects[i], out[i]);
  return out;
}

Result<DataKey> EmbeddedKeyStore::new_key(std::string_view subject) {
  std::lock_guard lock(mutex_);
  return create_key(subject);
}

Result<std::optional<std::string>> EmbeddedKeyStore::find(std::string_view subject,
                                                          std::string_view key_id,
                                                          std::chrono::steady_clock::time_point) {
  const std::string name = key_records::data_key_name(subject, key_id);
  {
    std::lock_guard lock(mutex_);
    if (auto it = secrets_.find(name); it != secrets_.end()) return std::optional(it->second);
  }
  std::string wrapped;
  auto s = db_->Get(rocksdb::ReadOptions(), name, &wrapped);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return rocks_status(s, "cannot read");
  auto secret = key_records::unwrap(master_, name, wrapped);
  if (!secret.ok()) return secret.status();
  std::lock_guard lock(mutex_);
  if (secrets_.size() >= kMaxCachedSecrets) secrets_.clear();
  secrets_.emplace(name, *secret);
  return std::optional(std::move(*secret));
}

Status EmbeddedKeyStore::destroy(std::string_view subject,
                                 const std::vector<std::string>& key_ids) {
  std::lock_guard lock(mutex_);
  rocksdb::WriteBatch batch;
  for (const auto& id : key_ids) {
    const std::string name = key_records::data_key_name(subject, id);
    batch.Delete(name);
    secrets_.erase(name);
  }
  if (auto it = current_.find(std::string(subject));
      it != current_.end() &&
      std::find(key_ids.begin(), key_ids.end(), it->second.id) != key_ids.end())
    current_.erase(it);
  if (batch.Count() == 0) return {};
  if (auto s = db_->Write(synced(), &batch); !s.ok()) return rocks_status(s, "cannot destroy keys");
  return {};
}

Result<size_t> EmbeddedKeyStore::rewrap() {
  std::lock_guard lock(mutex_);
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string name = it->key().ToString();
    auto secret = key_records::unwrap(master_, name, it->value().ToStringView());
    if (!secret.ok()) return secret.status();
    batch.Put(name, key_records::wrap(master_, name, *secret));
  }
  if (!it->status().ok()) return rocks_status(it->status(), "cannot read");
  if (auto s = db_->Write(synced(), &batch); !s.ok()) return rocks_status(s, "cannot rewrap");
  if (auto s = compact(); !s.ok()) return s;  // the old wrappings leave the files
  return static_cast<size_t>(batch.Count());
}

Status EmbeddedKeyStore::checkpoint(const std::string& dir) const {
  rocksdb::Checkpoint* raw = nullptr;
  if (auto s = rocksdb::Checkpoint::Create(db_.get(), &raw); !s.ok())
    return rocks_status(s, "checkpoint of the key store");
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  if (auto s = checkpoint->CreateCheckpoint(dir, std::numeric_limits<uint64_t>::max()); !s.ok())
    return rocks_status(s, "checkpoint of the key store into " + dir);
  return {};
}

Status EmbeddedKeyStore::compact() {
  if (auto s = db_->Flush(rocksdb::FlushOptions()); !s.ok()) return rocks_status(s, "flush");
  rocksdb::CompactRangeOptions options;
  options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  if (auto s = db_->CompactRange(options, nullptr, nullptr); !s.ok())
    return rocks_status(s, "compaction");
  return {};
}

}  // namespace contacts
