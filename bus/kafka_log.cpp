#include "bus/kafka_log.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <limits>
#include <set>

#include "core/log.h"

namespace contacts {

namespace {

constexpr int kAdminTimeoutMs = 15000;
constexpr int kEndOffsetsTimeoutMs = 2000;

// Creates the topics that are missing; a topic that exists is left as it is.
using TopicConfig = std::vector<std::pair<std::string, std::string>>;
Status create_topics(rd_kafka_t* rk,
                     const std::vector<std::tuple<std::string, int32_t, TopicConfig>>& topics) {
  char errstr[512];
  std::vector<rd_kafka_NewTopic_t*> news;
  for (const auto& [name, partitions, config] : topics) {
    rd_kafka_NewTopic_t* t =
        rd_kafka_NewTopic_new(name.c_str(), partitions, 1, errstr, sizeof errstr);
    if (!t) return {Code::kInvalid, "topic " + name + ": " + errstr};
    for (const auto& [key, value] : config)
      rd_kafka_NewTopic_set_config(t, key.c_str(), value.c_str());
    news.push_back(t);
  }
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(options, kAdminTimeoutMs, errstr, sizeof errstr);
  rd_kafka_CreateTopics(rk, news.data(), news.size(), options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, kAdminTimeoutMs + 5000);
  Status status;
  if (!event) {
    status = {Code::kUnavailable,
              "creating the Kafka topics timed out (are the brokers reachable?)"};
  } else if (rd_kafka_event_error(event)) {
    status = {Code::kUnavailable,
              std::string("creating the Kafka topics: ") + rd_kafka_event_error_string(event)};
  } else {
    const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event);
    size_t count = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
    for (size_t i = 0; i < count && status.ok(); ++i) {
      rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        status = {Code::kUnavailable, std::string("creating topic ") +
                                          rd_kafka_topic_result_name(results[i]) + ": " +
                                          rd_kafka_err2str(err)};
    }
  }
  if (event) rd_kafka_event_destroy(event);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy_array(news.data(), news.size());
  return status;
}

// The partition count of `topic` as the brokers know it; 0 while they do not yet.
int32_t partition_count(RdKafka::Producer& producer, const std::string& topic) {
  std::string error;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(&producer, topic, nullptr, error));
  if (!handle) return 0;
  RdKafka::Metadata* raw = nullptr;
  if (producer.metadata(false, handle.get(), &raw, 5000) != RdKafka::ERR_NO_ERROR || !raw) return 0;
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  for (const auto* t : *metadata->topics())
    if (t->topic() == topic && t->err() == RdKafka::ERR_NO_ERROR)
      return static_cast<int32_t>(t->partitions()->size());
  return 0;
}

// The partition count of `topic`, waiting up to 10 s for the brokers to know a new topic.
Result<int32_t> await_partitions(RdKafka::Producer& producer, const std::string& topic) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (int32_t count = partition_count(producer, topic); count > 0) return count;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status{Code::kUnavailable, "topic " + topic + " has no partitions"};
}

}  // namespace

Status kafka_error(const std::string& what, RdKafka::ErrorCode code) {
  return {Code::kUnavailable, what + ": " + RdKafka::err2str(code)};
}

// A conf with `settings`; the first failure is reported.
Result<std::unique_ptr<RdKafka::Conf>> make_kafka_conf(
    const std::vector<std::pair<std::string, std::string>>& settings) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  for (const auto& [name, value] : settings)
    if (conf->set(name, value, error) != RdKafka::Conf::CONF_OK)
      return Status{Code::kInvalid, "Kafka setting " + name + "=" + value + ": " + error};
  return conf;
}

// Routes each delivery report to the append that is waiting for it.
class KafkaLog::DeliveryReports final : public RdKafka::DeliveryReportCb {
 public:
  struct Batch {
    std::mutex mutex;
    std::condition_variable done;
    size_t remaining = 0;
    std::vector<LogPosition> positions;
    Status failure;
  };
  struct Slot {
    Batch* batch;
    size_t index;
  };

  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<Slot> slot(static_cast<Slot*>(message.msg_opaque()));
    if (!slot) return;
    Batch& b = *slot->batch;
    std::lock_guard lock(b.mutex);
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      if (b.failure.ok()) b.failure = kafka_error("Kafka delivery failed", message.err());
    } else {
      b.positions[slot->index] = {Partition(message.partition()), Offset(message.offset())};
    }
    if (--b.remaining == 0) b.done.notify_all();
  }
};

class KafkaLog::CommandReader {
 public:
  static Result<std::unique_ptr<CommandReader>> open(const std::string& brokers,
                                                     const std::string& topic, int32_t partitions) {
    std::string error;
    auto conf = make_kafka_conf({{"bootstrap.servers", brokers},
                                 {"client.id", "contacts-projector"},
                                 {"log.connection.close", "false"},
                                 {"fetch.wait.max.ms", "10"},
                                 {"fetch.error.backoff.ms", "50"},
                                 {"queued.min.messages", "20000"},
                                 {"enable.partition.eof", "false"}});
    if (!conf.ok()) return conf.status();
    std::unique_ptr<CommandReader> reader(new CommandReader());
    reader->consumer_.reset(RdKafka::Consumer::create(conf->get(), error));
    if (!reader->consumer_) return Status{Code::kUnavailable, "Kafka consumer: " + error};
    // An offset the topic does not have (it was recreated, or a broker lost acknowledged
    // records) is an error to report, never a silent jump to the end or the start.
    std::unique_ptr<RdKafka::Conf> topic_conf(RdKafka::Conf::create(RdKafka::Conf::CONF_TOPIC));
    if (topic_conf->set("auto.offset.reset", "error", error) != RdKafka::Conf::CONF_OK)
      return Status{Code::kInvalid, "Kafka auto.offset.reset: " + error};
    reader->topic_.reset(
        RdKafka::Topic::create(reader->consumer_.get(), topic, topic_conf.get(), error));
    if (!reader->topic_) return Status{Code::kUnavailable, "Kafka topic " + topic + ": " + error};
    for (int32_t p = 0; p < partitions; ++p)
      reader->partitions_.push_back(std::make_unique<PartitionReader>());
    return reader;
  }

  ~CommandReader() {
    for (size_t p = 0; p < partitions_.size(); ++p)
      if (partitions_[p]->started) consumer_->stop(topic_.get(), static_cast<int32_t>(p));
  }

  Result<std::vector<LogEntry>> read(Partition partition, Offset from, size_t max_records) {
    if (partition.value < 0 || static_cast<size_t>(partition.value) >= partitions_.size())
      return Status{Code::kInvalid, "no such partition"};
    PartitionReader& reader = *partitions_[static_cast<size_t>(partition.value)];
    std::lock_guard lock(reader.mutex);
    if (!reader.started || reader.next != from.value) {
      // (Re)start fetching at `from`: on the first read, and when the caller goes back to an
      // earlier offset (a batch that failed to commit is folded again).
      if (reader.started) consumer_->stop(topic_.get(), partition.value);
      auto err = consumer_->start(topic_.get(), partition.value, from.value);
      if (err != RdKafka::ERR_NO_ERROR) return kafka_error("Kafka consumer start", err);
      reader.started = true;
      reader.next = from.value;
    }
    std::vector<LogEntry> entries;
    while (entries.size() < max_records) {
      std::unique_ptr<RdKafka::Message> m(consumer_->consume(topic_.get(), partition.value, 0));
      if (!m || m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF)
        break;
      if (m->err() != RdKafka::ERR_NO_ERROR) return kafka_error("Kafka fetch", m->err());
      if (m->offset() < reader.next) continue;  // fetched before a restart at a later offset
      LogEntry e;
      e.partition = partition;
      e.offset = Offset(m->offset());
      if (m->key()) e.key = *m->key();
      e.value.assign(static_cast<const char*>(m->payload()), m->len());
      reader.next = m->offset() + 1;
      entries.push_back(std::move(e));
    }
    return entries;
  }

  const std::unique_ptr<RdKafka::Consumer>& consumer() const { return consumer_; }

 private:
  struct PartitionReader {
    std::mutex mutex;
    bool started = false;
    int64_t next = 0;
  };
  CommandReader() = default;

  std::unique_ptr<RdKafka::Consumer> consumer_;
  std::unique_ptr<RdKafka::Topic> topic_;
  std::vector<std::unique_ptr<PartitionReader>> partitions_;
};

// The KafkaLog's appends and ends, with reads of its own.
class KafkaLog::OwnReaderLog final : public Log {
 public:
  OwnReaderLog(KafkaLog& log, std::unique_ptr<CommandReader> reader)
      : log_(log), reader_(std::move(reader)) {}
  Result<std::vector<LogPosition>> append(const std::vector<LogRecord>& records) override {
    return log_.append(records);
  }
  std::unique_ptr<PendingAppend> start_append(const std::vector<LogRecord>& records) override {
    return log_.start_append(records);
  }
  Result<std::vector<LogEntry>> read(Partition partition, Offset from,
                                     size_t max_records) override {
    return reader_->read(partition, from, max_records);
  }
  Offset end_offset(Partition partition) override { return log_.end_offset(partition); }
  std::vector<Offset> end_offsets() override { return log_.end_offsets(); }
  int32_t partitions() const override { return log_.partitions(); }
  uint64_t wait_for_append(uint64_t seen, std::chrono::milliseconds timeout) override {
    return log_.wait_for_append(seen, timeout);
  }
  uint64_t append_count() const override { return log_.append_count(); }

 private:
  KafkaLog& log_;
  std::unique_ptr<CommandReader> reader_;
};

Result<std::unique_ptr<KafkaLog>> KafkaLog::open(const KafkaOptions& options) {
  std::unique_ptr<KafkaLog> log(new KafkaLog());
  log->commands_topic_ = options.topic_prefix + "contacts.commands";
  log->dlq_topic_ = options.topic_prefix + "contacts.dlq";
  log->changes_topic_ = options.topic_prefix + "contacts.changes";
  log->reports_ = std::make_unique<DeliveryReports>();

  auto producer_conf = make_kafka_conf({{"bootstrap.servers", options.brokers},
                                        {"client.id", "contacts"},
                                        {"log.connection.close", "false"},
                                        {"enable.idempotence", "true"},
                                        {"acks", "all"},
                                        {"linger.ms", "2"},
                                        {"message.timeout.ms", "30000"},
                                        {"message.max.bytes", "1048576"}});
  if (!producer_conf.ok()) return producer_conf.status();
  std::string error;
  (*producer_conf)->set("dr_cb", log->reports_.get(), error);
  log->producer_.reset(RdKafka::Producer::create(producer_conf->get(), error));
  if (!log->producer_) return Status{Code::kUnavailable, "Kafka producer: " + error};
  // start_append's producer (the projector's forwards of misplaced records): it never gives a
  // record up (message.timeout.ms=0: retried until the brokers take it) and never delivers one
  // past a record it failed (gapless), so forwards keep their order in their partition.
  auto forward_conf = make_kafka_conf({{"bootstrap.servers", options.brokers},
                                       {"client.id", "contacts-forward"},
                                       {"log.connection.close", "false"},
                                       {"enable.idempotence", "true"},
                                       {"enable.gapless.guarantee", "true"},
                                       {"acks", "all"},
                                       {"linger.ms", "2"},
                                       {"message.timeout.ms", "0"},
                                       {"message.max.bytes", "1048576"}});
  if (!forward_conf.ok()) return forward_conf.status();
  (*forward_conf)->set("dr_cb", log->reports_.get(), error);
  log->forwarder_.reset(RdKafka::Producer::create(forward_conf->get(), error));
  if (!log->forwarder_) return Status{Code::kUnavailable, "Kafka producer: " + error};
  // Delivery reports arrive through poll: a thread per producer serves its appends (one thread
  // for both would hold one's reports while it waits on the other).
  log->poller_ = std::thread([raw = log.get()] {
    while (!raw->stopping_) raw->producer_->poll(20);
  });
  log->forward_poller_ = std::thread([raw = log.get()] {
    while (!raw->stopping_) raw->forwarder_->poll(20);
  });

  auto created =
      create_topics(log->producer_->c_ptr(),
                    {{log->commands_topic_, options.partitions, {{"retention.ms", "-1"}}},
                     {log->dlq_topic_, 1, {{"retention.ms", "-1"}}},
                     // Changes carry names and emails: kept for the erasure window, no longer.
                     {log->changes_topic_,
                      options.partitions,
                      {{"retention.ms", std::to_string(options.changes_retention.count())},
                       {"segment.ms", std::to_string(options.changes_retention.count())}}}});
  if (!created.ok()) return created;
  auto commands = await_partitions(*log->producer_, log->commands_topic_);
  if (!commands.ok()) return commands.status();
  log->partitions_ = *commands;
  auto changes = await_partitions(*log->producer_, log->changes_topic_);
  if (!changes.ok()) return changes.status();
  log->changes_partitions_ = *changes;

  log->brokers_ = options.brokers;
  auto reader = CommandReader::open(options.brokers, log->commands_topic_, log->partitions_);
  if (!reader.ok()) return reader.status();
  log->reader_ = std::move(*reader);
  return log;
}

KafkaLog::~KafkaLog() {
  reader_.reset();
  if (producer_) producer_->flush(10000);
  if (forwarder_) forwarder_->flush(10000);
  stopping_ = true;
  if (poller_.joinable()) poller_.join();
  if (forward_poller_.joinable()) forward_poller_.join();
}

namespace {

// The partition of each record of a topic of `count` partitions: its key's.
std::vector<int32_t> partitions_of(const std::vector<LogRecord>& records, int32_t count) {
  std::vector<int32_t> partitions;
  partitions.reserve(records.size());
  for (const auto& r : records) partitions.push_back(partition_for(r.key, count).value);
  return partitions;
}

}  // namespace

// A produce under way: its batch of delivery reports, which the producer's callbacks fill.
class KafkaLog::Pending final : public PendingAppend {
 public:
  explicit Pending(std::function<void()> delivered) : delivered_(std::move(delivered)) {}
  ~Pending() override { settle(); }
  Result<std::vector<LogPosition>> wait() override {
    settle();
    if (!failure.ok()) return failure;
    if (!batch.failure.ok()) return batch.failure;
    if (delivered_) std::exchange(delivered_, nullptr)();
    return batch.positions;
  }

  DeliveryReports::Batch batch;
  Status failure;  // a record the producer refused to queue

 private:
  // Every queued record is reported (delivered or failed within message.timeout.ms).
  void settle() {
    std::unique_lock lock(batch.mutex);
    batch.done.wait(lock, [&] { return batch.remaining == 0; });
  }
  std::function<void()> delivered_;
};

std::unique_ptr<PendingAppend> KafkaLog::start_produce(
    RdKafka::Producer& producer, const std::string& topic, const std::vector<LogRecord>& records,
    const std::vector<int32_t>& partitions,
    const std::vector<std::vector<std::pair<std::string, std::string>>>* headers,
    std::function<void()> delivered) {
  auto pending = std::make_unique<Pending>(std::move(delivered));
  DeliveryReports::Batch& batch = pending->batch;
  batch.positions.resize(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const LogRecord& r = records[i];
    auto* slot = new DeliveryReports::Slot{&batch, i};
    {
      std::lock_guard lock(batch.mutex);
      ++batch.remaining;
    }
    RdKafka::ErrorCode err;
    while (true) {
      RdKafka::Headers* h = nullptr;
      if (headers) {
        h = RdKafka::Headers::create();
        for (const auto& [name, value] : (*headers)[i]) h->add(name, value);
      }
      err = producer.produce(topic, partitions[i], RdKafka::Producer::RK_MSG_COPY,
                             const_cast<char*>(r.value.data()), r.value.size(), r.key.data(),
                             r.key.size(), 0, h, slot);
      if (err == RdKafka::ERR_NO_ERROR) break;
      delete h;  // left to us when produce fails
      if (err != RdKafka::ERR__QUEUE_FULL) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the poller drains the queue
    }
    if (err != RdKafka::ERR_NO_ERROR) {
      delete slot;
      std::lock_guard lock(batch.mutex);
      --batch.remaining;
      pending->failure = kafka_error("Kafka produce", err);
      break;
    }
  }
  return pending;
}

void KafkaLog::appended() {
  {
    std::lock_guard lock(wait_mutex_);
    appends_.fetch_add(1);
  }
  appended_.notify_all();
}

Result<std::vector<LogPosition>> KafkaLog::append(const std::vector<LogRecord>& records) {
  return start_commands(*producer_, records)->wait();
}

std::unique_ptr<PendingAppend> KafkaLog::start_append(const std::vector<LogRecord>& records) {
  return start_commands(*forwarder_, records);
}

std::unique_ptr<PendingAppend> KafkaLog::start_commands(RdKafka::Producer& producer,
                                                        const std::vector<LogRecord>& records) {
  return start_produce(producer, commands_topic_, records, partitions_of(records, partitions_),
                       nullptr, [this] { appended(); });
}

std::unique_ptr<PendingAppend> KafkaLog::start_publish(const std::vector<LogRecord>& records) {
  return start_produce(*producer_, changes_topic_, records,
                       partitions_of(records, changes_partitions_), nullptr);
}

Status KafkaLog::publish_changes(const std::vector<LogRecord>& records) {
  if (records.empty()) return {};
  auto positions = start_publish(records)->wait();
  return positions.ok() ? Status{} : positions.status();
}

Status KafkaLog::put(const LogEntry& entry, const std::string& reason) {
  std::vector<std::vector<std::pair<std::string, std::string>>> headers{
      {{"reason", reason},
       {"source", commands_topic_ + "/" + std::to_string(entry.partition.value) + "/" +
                      std::to_string(entry.offset.value)}}};
  auto positions =
      produce(dlq_topic_, {{entry.key, entry.value}}, {0}, &headers);  // list() reads partition 0
  return positions.ok() ? Status{} : positions.status();
}

Result<std::vector<LogEntry>> KafkaLog::read(Partition partition, Offset from, size_t max_records) {
  return reader_->read(partition, from, max_records);
}

std::unique_ptr<Log> KafkaLog::with_own_reader() {
  auto reader = CommandReader::open(brokers_, commands_topic_, partitions_);
  if (!reader.ok()) {
    log::warn(reader.status().message() + " (reading through the shared one)");
    return nullptr;
  }
  return std::unique_ptr<Log>(new OwnReaderLog(*this, std::move(*reader)));
}

Offset KafkaLog::end_offset(Partition partition) {
  int64_t low = 0, high = 0;
  // Unknown while the brokers do not answer: nothing is caught up with an unknown end.
  if (producer_->query_watermark_offsets(commands_topic_, partition.value, &low, &high, 5000) !=
      RdKafka::ERR_NO_ERROR)
    return Offset(std::numeric_limits<int64_t>::max());
  return Offset(high);
}

std::vector<Offset> KafkaLog::end_offsets() {
  std::vector<Offset> ends(static_cast<size_t>(partitions_),
                           Offset(std::numeric_limits<int64_t>::max()));
  std::vector<RdKafka::TopicPartition*> list;
  for (int32_t p = 0; p < partitions_; ++p)
    list.push_back(RdKafka::TopicPartition::create(commands_topic_, p, RdKafka::Topic::OFFSET_END));
  // A timestamp of -1 (OFFSET_END) asks for each partition's latest offset.
  if (producer_->offsetsForTimes(list, kEndOffsetsTimeoutMs) == RdKafka::ERR_NO_ERROR)
    for (const auto* tp : list)
      if (tp->err() == RdKafka::ERR_NO_ERROR && tp->offset() >= 0 && tp->partition() < partitions_)
        ends[static_cast<size_t>(tp->partition())] = Offset(tp->offset());
  RdKafka::TopicPartition::destroy(list);
  return ends;
}

uint64_t KafkaLog::wait_for_append(uint64_t seen_appends, std::chrono::milliseconds timeout) {
  // Other producers append too, unseen: never wait long before looking at the partitions again.
  std::unique_lock lock(wait_mutex_);
  appended_.wait_for(lock, std::min(timeout, std::chrono::milliseconds(5)),
                     [&] { return appends_.load() != seen_appends; });
  return appends_.load();
}

namespace {

// The value of header `name` of `message`, empty when it has none.
std::string header_of(RdKafka::Message& message, const std::string& name) {
  RdKafka::Headers* headers = message.headers();
  if (headers == nullptr) return {};
  RdKafka::Headers::Header h = headers->get_last(name);
  if (h.err() != RdKafka::ERR_NO_ERROR || h.value() == nullptr) return {};
  return std::string(static_cast<const char*>(h.value()), h.value_size());
}

}  // namespace

Result<std::vector<DeadLetter>> KafkaLog::list() {
  int64_t low = 0, high = 0;
  if (auto err = producer_->query_watermark_offsets(dlq_topic_, 0, &low, &high, 5000);
      err != RdKafka::ERR_NO_ERROR)
    return kafka_error("Kafka topic " + dlq_topic_, err);
  std::vector<DeadLetter> letters;
  if (low >= high) return letters;
  std::string error;
  std::unique_ptr<RdKafka::Topic> topic(
      RdKafka::Topic::create(reader_->consumer().get(), dlq_topic_, nullptr, error));
  if (!topic) return Status{Code::kUnavailable, "Kafka topic " + dlq_topic_ + ": " + error};
  if (auto err = reader_->consumer()->start(topic.get(), 0, low); err != RdKafka::ERR_NO_ERROR)
    return kafka_error("Kafka consumer start", err);
  // A record put twice (a batch folded again) is listed once, by its source position.
  std::set<std::pair<int32_t, int64_t>> seen;
  const std::string prefix = commands_topic_ + "/";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int64_t next = low;
  Status failure;
  while (next < high && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(reader_->consumer()->consume(topic.get(), 0, 500));
    if (!m || m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF)
      continue;
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      failure = kafka_error("Kafka fetch", m->err());
      break;
    }
    next = m->offset() + 1;
    DeadLetter letter;
    letter.reason = header_of(*m, "reason");
    const std::string source = header_of(*m, "source");
    auto position = source.rfind(prefix, 0) == 0
                        ? parse_position(std::string_view(source).substr(prefix.size()))
                        : std::nullopt;
    if (!position) continue;  // not one of this service's dead letters
    letter.source = *position;
    if (!seen.insert({position->partition.value, position->offset.value}).second) continue;
    if (m->key()) letter.key = *m->key();
    letter.value.assign(static_cast<const char*>(m->payload()), m->len());
    letters.push_back(std::move(letter));
  }
  reader_->consumer()->stop(topic.get(), 0);
  if (!failure.ok()) return failure;
  if (next < high)
    return Status{Code::kUnavailable, "timed out reading the dead-letter topic " + dlq_topic_};
  return letters;
}

}  // namespace contacts
