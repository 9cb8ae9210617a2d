// KafkaLog: the Log on Apache Kafka (librdkafka). Commands go to `<prefix>contacts.commands`,
// partitioned like the embedded log (Kafka's murmur2 of the workspace key, computed here and
// passed explicitly), through an idempotent producer with acks=all; append returns once every
// record is acknowledged. Reads are by partition and offset (the views store their offsets;
// Kafka's committed offsets are not used to resume). Topics are created on open when missing:
// the command topic with `partitions` partitions and retention.ms=-1, the dead-letter topic
// `<prefix>contacts.dlq`, and `<prefix>contacts.changes`.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bus/change_topic.h"
#include "bus/dead_letters.h"
#include "bus/log.h"

namespace contacts {

// A librdkafka global conf with `settings`; the first one refused is reported.
Result<std::unique_ptr<RdKafka::Conf>> make_kafka_conf(
    const std::vector<std::pair<std::string, std::string>>& settings);
Status kafka_error(const std::string& what, RdKafka::ErrorCode code);

struct KafkaOptions {
  std::string brokers;
  std::string topic_prefix;
  int32_t partitions = 8;  // of the command topic, when this creates it
  // retention.ms and segment.ms of the change topic, when this creates it: the erasure window.
  std::chrono::milliseconds changes_retention{std::chrono::hours(24 * 7)};
};

class KafkaLog final : public Log, public ChangeTopic, public DeadLetterQueue {
 public:
  static Result<std::unique_ptr<KafkaLog>> open(const KafkaOptions& options);
  ~KafkaLog() override;

  Result<std::vector<LogPosition>> append(const std::vector<LogRecord>& records) override;
  // Queued at once in a producer of its own (the projector's forwards), which retries until the
  // brokers take each record and never delivers one past a record it failed, so appends keep
  // their order per partition; wait() waits for the acknowledgements.
  std::unique_ptr<PendingAppend> start_append(const std::vector<LogRecord>& records) override;
  Result<std::vector<LogEntry>> read(Partition partition, Offset from, size_t max_records) override;
  Offset end_offset(Partition partition) override;
  // One ListOffsets request for every partition, bounded by one timeout: while the brokers are
  // down, /readyz and /metrics answer within it instead of waiting once per partition.
  std::vector<Offset> end_offsets() override;
  int32_t partitions() const override { return partitions_; }
  // A consumer of its own for the command topic (a rebuild's projector reads there while the
  // live one reads at the end).
  std::unique_ptr<Log> with_own_reader() override;
  uint64_t wait_for_append(uint64_t seen_appends, std::chrono::milliseconds timeout) override;
  uint64_t append_count() const override { return appends_.load(); }

  // Sends a record that is not a valid command to the dead-letter topic, with the reason and
  // where it came from as headers (`reason`, `source`: topic/partition/offset); returns once
  // acknowledged.
  Status put(const LogEntry& entry, const std::string& reason) override;
  // Reads the dead-letter topic from its start to its end now (within 30 s).
  Result<std::vector<DeadLetter>> list() override;

  // Publishes change events (key: the workspace id) on the change topic, partitioned by key
  // like the commands; returns once every one is acknowledged.
  Status publish_changes(const std::vector<LogRecord>& records) override;
  std::unique_ptr<PendingAppend> start_publish(const std::vector<LogRecord>& records) override;

  const std::string& commands_topic() const { return commands_topic_; }
  const std::string& changes_topic() const { return changes_topic_; }
  const std::string& dlq_topic() const { return dlq_topic_; }

 private:
  // A consumer of the command topic and where it fetches in each partition.
  class CommandReader;
  class OwnReaderLog;
  class DeliveryReports;

  class Pending;

  KafkaLog() = default;
  // Queues `records` for `topic`, records[i] to partitions[i]; the returned handle waits for
  // their delivery reports. `delivered` runs once all were delivered (in wait()).
  std::unique_ptr<PendingAppend> start_produce(
      RdKafka::Producer& producer, const std::string& topic, const std::vector<LogRecord>& records,
      const std::vector<int32_t>& partitions,
      const std::vector<std::vector<std::pair<std::string, std::string>>>* headers,
      std::function<void()> delivered = nullptr);
  Result<std::vector<LogPosition>> produce(
      const std::string& topic, const std::vector<LogRecord>& records,
      const std::vector<int32_t>& partitions,
      const std::vector<std::vector<std::pair<std::string, std::string>>>* headers) {
    return start_produce(*producer_, topic, records, partitions, headers)->wait();
  }
  // Commands to `producer`, each to the partition of its key.
  std::unique_ptr<PendingAppend> start_commands(RdKafka::Producer& producer,
                                                const std::vector<LogRecord>& records);
  // Counts an append and wakes wait_for_append.
  void appended();

  std::string commands_topic_, dlq_topic_, changes_topic_;
  int32_t partitions_ = 0;
  int32_t changes_partitions_ = 0;
  std::unique_ptr<DeliveryReports> reports_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::unique_ptr<RdKafka::Producer> forwarder_;  // start_append's
  std::string brokers_;
  std::unique_ptr<CommandReader> reader_;  // read()'s; its consumer also reads the dlq topic
  std::atomic<uint64_t> appends_{0};
  std::atomic<bool> stopping_{false};
  std::thread poller_;
  std::thread forward_poller_;
  std::mutex wait_mutex_;
  std::condition_variable appended_;
};

}  // namespace contacts
