// KafkaKeyStore: the key store on Kafka, a compacted topic (`contacts.keys`, one partition) that
// every process reads from its start into memory. A key is a record named by its subject and id
// (key_store.h), its value wrapped by the master key; destroying a subject's keys appends a
// tombstone for each, and the topic's compaction removes the keys within the erasure window
// (topic settings below; README, Personal data). The index key is the first `index/...` record
// of the topic: every process takes the same one, whoever created it.
//
// Topic settings at creation: cleanup.policy=compact; segment.ms, max.compaction.lag.ms and
// delete.retention.ms = the erasure window; min.cleanable.dirty.ratio=0.01. The active segment is
// only compacted once rolled, and Kafka rolls it on an append: a store that destroyed keys appends
// a roll marker (`roll`, a tombstone) once the window has passed.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "privacy/key_store.h"

namespace contacts {

struct KafkaKeyStoreOptions {
  std::string brokers;
  std::string topic;  // the prefix's contacts.keys
  std::chrono::seconds erasure_window{std::chrono::hours(24 * 7)};
};

class KafkaKeyStore : public KeyStore {
 public:
  // Creates the topic when missing, reads it to its end and takes (or creates) the index key.
  static Result<std::unique_ptr<KafkaKeyStore>> open(const KafkaKeyStoreOptions& options,
                                                     std::string master_key);
  ~KafkaKeyStore() override;

  const std::string& index_key() const override { return index_key_; }
  Result<DataKey> current_key(std::string_view subject) override;
  Result<DataKey> new_key(std::string_view subject) override;
  Result<std::optional<std::string>> find(
      std::string_view subject, std::string_view key_id,
      std::chrono::steady_clock::time_point fresh_as_of) override;
  Status destroy(std::string_view subject, const std::vector<std::string>& key_ids) override;
  // Nothing to do here: the brokers compact the topic (see above).
  Status compact() override { return {}; }
  // Appends every live record again under the current master key (compaction then drops the
  // old wrappings).
  Result<size_t> rewrap() override;

 private:
  class Reports;
  struct Put {
    std::string name;
    std::optional<std::string> value;  // nullopt: a tombstone
  };
  // Appends `puts` in order and waits until the brokers took every one of them.
  Status put_all(const std::vector<Put>& puts);
  KafkaKeyStore(KafkaKeyStoreOptions options, std::string master);
  // Reads the topic up to the end it has now (at most 30 s).
  Status sync();
  // Appends `value` (nullopt: a tombstone) under `name` and waits for the brokers to take it.
  Status put(const std::string& name, const std::optional<std::string>& value);
  void consume_loop();
  void apply(const RdKafka::Message& message);

  const KafkaKeyStoreOptions options_;
  const std::string master_;
  std::string index_key_;
  std::unique_ptr<Reports> reports_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::unique_ptr<RdKafka::Consumer> consumer_;
  std::unique_ptr<RdKafka::Topic> topic_;
  std::mutex put_mutex_;  // one append at a time, with its delivery report

  mutable std::mutex mutex_;
  std::condition_variable advanced_;
  int64_t next_offset_ = 0;                               // of the topic, read up to here
  std::unordered_map<std::string, std::string> secrets_;  // record name -> unwrapped secret
  std::unordered_map<std::string, std::vector<std::string>> subject_keys_;  // subject -> key ids
  std::string index_name_;  // the record of the index key: the first index record read
  // Records the master key did not open (another process rotated it first): never "destroyed".
  std::unordered_map<std::string, std::string> unopened_;  // name -> why
  std::unordered_set<std::string> tombstones_seen_;        // since a rewrap started
  bool rewrapping_ = false;
  std::chrono::steady_clock::time_point last_sync_started_{};
  std::string consume_error_;  // a record the master key does not open
  std::optional<std::chrono::steady_clock::time_point> roll_due_;

  std::atomic<bool> stopping_{false};
  std::thread consumer_thread_;
};

}  // namespace contacts
