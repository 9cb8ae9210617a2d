#include "privacy/kafka_key_store.h"

#include <librdkafka/rdkafka.h>

#include "core/crypto.h"

namespace contacts {

namespace {

constexpr int kTimeoutMs = 30000;

Status kafka_status(const std::string& what, const std::string& error) {
  return {Code::kUnavailable, "key store on Kafka: " + what + ": " + error};
}

std::unique_ptr<RdKafka::Conf> conf_of(const std::vector<std::pair<std::string, std::string>>& kv,
                                       std::string& error) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  for (const auto& [k, v] : kv)
    if (conf->set(k, v, error) != RdKafka::Conf::CONF_OK) return nullptr;
  return conf;
}

// Creates the compacted topic unless it exists.
Status create_topic(rd_kafka_t* rk, const KafkaKeyStoreOptions& options) {
  char errstr[512];
  rd_kafka_NewTopic_t* t =
      rd_kafka_NewTopic_new(options.topic.c_str(), 1, -1, errstr, sizeof errstr);
  if (!t) return kafka_status("topic " + options.topic, errstr);
  const std::string window_ms =
      std::to_string(std::chrono::milliseconds(options.erasure_window).count());
  for (const auto& [k, v] :
       std::vector<std::pair<std::string, std::string>>{{"cleanup.policy", "compact"},
                                                        {"segment.ms", window_ms},
                                                        {"max.compaction.lag.ms", window_ms},
                                                        {"delete.retention.ms", window_ms},
                                                        {"min.cleanable.dirty.ratio", "0.01"}})
    rd_kafka_NewTopic_set_config(t, k.c_str(), v.c_str());
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* admin = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(admin, 15000, errstr, sizeof errstr);
  rd_kafka_CreateTopics(rk, &t, 1, admin, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 20000);
  Status status;
  if (!event) {
    status = kafka_status("creating " + options.topic, "no answer from the brokers");
  } else if (rd_kafka_event_error(event)) {
    status = kafka_status("creating " + options.topic, rd_kafka_event_error_string(event));
  } else {
    size_t count = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
    for (size_t i = 0; i < count; ++i) {
      rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        status = kafka_status("creating " + options.topic, rd_kafka_err2str(err));
    }
  }
  if (event) rd_kafka_event_destroy(event);
  rd_kafka_AdminOptions_destroy(admin);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(t);
  return status;
}

// "key/<subject>/<key id>" -> subject, key id.
bool split_key_name(const std::string& name, std::string& subject, std::string& key_id) {
  if (name.rfind("key/", 0) != 0) return false;
  size_t slash = name.rfind('/');
  if (slash <= 4) return false;
  subject = name.substr(4, slash - 4);
  key_id = name.substr(slash + 1);
  return true;
}

}  // namespace

// The outcomes of appends under way, by the token each was produced with: a late report of an
// append that timed out is not taken for another's.
class KafkaKeyStore::Reports final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    std::lock_guard lock(mutex);
    auto token = reinterpret_cast<uintptr_t>(message.msg_opaque());
    if (token >= first_pending && token < next_token)
      outcomes[token] = message.err() == RdKafka::ERR_NO_ERROR ? "" : message.errstr();
  }
  std::mutex mutex;
  uintptr_t next_token = 1;
  uintptr_t first_pending = 1;
  std::unordered_map<uintptr_t, std::string> outcomes;  // token -> error ("" = taken)
};

KafkaKeyStore::KafkaKeyStore(KafkaKeyStoreOptions options, std::string master)
    : options_(std::move(options)), master_(std::move(master)), reports_(new Reports()) {}

Result<std::unique_ptr<KafkaKeyStore>> KafkaKeyStore::open(const KafkaKeyStoreOptions& options,
                                                           std::string master_key) {
  std::unique_ptr<KafkaKeyStore> store(new KafkaKeyStore(options, std::move(master_key)));
  std::string error;
  auto producer_conf = conf_of({{"bootstrap.servers", options.brokers},
                                {"client.id", "contacts-keys"},
                                {"enable.idempotence", "true"},
                                {"acks", "all"},
                                {"linger.ms", "0"},
                                {"log.connection.close", "false"}},
                               error);
  if (!producer_conf) return kafka_status("settings", error);
  producer_conf->set("dr_cb", store->reports_.get(), error);
  store->producer_.reset(RdKafka::Producer::create(producer_conf.get(), error));
  if (!store->producer_) return kafka_status("producer", error);
  if (auto s = create_topic(store->producer_->c_ptr(), options); !s.ok()) return s;
  auto consumer_conf = conf_of({{"bootstrap.servers", options.brokers},
                                {"client.id", "contacts-keys"},
                                {"fetch.wait.max.ms", "50"},
                                {"log.connection.close", "false"},
                                {"enable.partition.eof", "true"}},
                               error);
  if (!consumer_conf) return kafka_status("settings", error);
  store->consumer_.reset(RdKafka::Consumer::create(consumer_conf.get(), error));
  if (!store->consumer_) return kafka_status("consumer", error);
  store->topic_.reset(
      RdKafka::Topic::create(store->consumer_.get(), options.topic, nullptr, error));
  if (!store->topic_) return kafka_status("topic " + options.topic, error);
  if (auto err = store->consumer_->start(store->topic_.get(), 0, RdKafka::Topic::OFFSET_BEGINNING);
      err != RdKafka::ERR_NO_ERROR)
    return kafka_status("reading " + options.topic, RdKafka::err2str(err));
  store->consumer_thread_ = std::thread([raw = store.get()] { raw->consume_loop(); });
  if (auto s = store->sync(); !s.ok()) return s;
  std::unique_lock lock(store->mutex_);
  if (store->index_name_.empty()) {
    lock.unlock();
    std::string name = std::string(key_records::kIndexName) + "/" + key_records::new_key_id();
    if (auto s =
            store->put(name, key_records::wrap(store->master_, name, random_bytes(kAeadKeyBytes)));
        !s.ok())
      return s;
    if (auto s = store->sync(); !s.ok()) return s;
    lock.lock();
  }
  if (!store->consume_error_.empty()) return Status{Code::kInvalid, store->consume_error_};
  if (store->index_name_.empty())
    return kafka_status("the index key", "not found after storing it");
  return store;
}

KafkaKeyStore::~KafkaKeyStore() {
  stopping_ = true;
  if (consumer_thread_.joinable()) consumer_thread_.join();
  if (consumer_ && topic_) consumer_->stop(topic_.get(), 0);
  if (producer_) producer_->flush(5000);
}

void KafkaKeyStore::consume_loop() {
  while (!stopping_) {
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(topic_.get(), 0, 100));
    if (m && m->err() == RdKafka::ERR_NO_ERROR) {
      apply(*m);
    } else if (m && m->err() == RdKafka::ERR__PARTITION_EOF) {
      // At the end: the offsets up to it may hold nothing any more (compacted away).
      std::lock_guard lock(mutex_);
      next_offset_ = std::max(next_offset_, m->offset());
      advanced_.notify_all();
    }
    std::optional<std::chrono::steady_clock::time_point> due;
    {
      std::lock_guard lock(mutex_);
      due = roll_due_;
    }
    if (due && std::chrono::steady_clock::now() >= *due) {
      // Rolls the active segment, so that the compaction reaches the tombstones in it.
      if (put("roll", std::nullopt).ok()) {
        std::lock_guard lock(mutex_);
        if (roll_due_ == due) roll_due_.reset();
      }
    }
  }
}

void KafkaKeyStore::apply(const RdKafka::Message& m) {
  std::string name = m.key() ? *m.key() : std::string();
  std::optional<std::string> wrapped;
  if (m.payload()) wrapped.emplace(static_cast<const char*>(m.payload()), m.len());
  std::lock_guard lock(mutex_);
  next_offset_ = m.offset() + 1;
  std::string subject, key_id;
  if (name.rfind(key_records::kIndexName, 0) == 0 && wrapped) {
    if (index_name_.empty()) {
      auto secret = key_records::unwrap(master_, name, *wrapped);
      if (secret.ok()) {
        index_key_ = std::move(*secret);
        index_name_ = name;
      } else {
        consume_error_ = secret.status().message() + " (topic " + options_.topic + ")";
      }
    }
  } else if (split_key_name(name, subject, key_id)) {
    if (!wrapped) {
      secrets_.erase(name);
      unopened_.erase(name);
      if (rewrapping_) tombstones_seen_.insert(name);
      auto it = subject_keys_.find(subject);
      if (it != subject_keys_.end()) {
        std::erase(it->second, key_id);
        if (it->second.empty()) subject_keys_.erase(it);
      }
    } else if (auto secret = key_records::unwrap(master_, name, *wrapped); secret.ok()) {
      unopened_.erase(name);
      if (secrets_.insert_or_assign(name, std::move(*secret)).second)
        subject_keys_[subject].push_back(key_id);
    } else if (!secrets_.count(name)) {
      // Wrapped under a master key this process was not given (a rotation under way): the key
      // exists, and its records are not an erased person's.
      unopened_[name] = secret.status().message();
    }
  }
  advanced_.notify_all();
}

Status KafkaKeyStore::sync() {
  const auto started = std::chrono::steady_clock::now();
  int64_t low = 0, high = 0;
  // A topic just created may not be known to the broker's metadata yet: asked again until then.
  const auto deadline = started + std::chrono::milliseconds(kTimeoutMs);
  RdKafka::ErrorCode err;
  while ((err = consumer_->query_watermark_offsets(options_.topic, 0, &low, &high, 5000)) !=
             RdKafka::ERR_NO_ERROR &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (err != RdKafka::ERR_NO_ERROR)
    return kafka_status("the end of " + options_.topic, RdKafka::err2str(err));
  std::unique_lock lock(mutex_);
  if (!advanced_.wait_for(lock, std::chrono::milliseconds(kTimeoutMs),
                          [&] { return next_offset_ >= high || stopping_.load(); }))
    return kafka_status("reading " + options_.topic, "not at its end after 30 s");
  last_sync_started_ = std::max(last_sync_started_, started);
  return {};
}

Status KafkaKeyStore::put(const std::string& name, const std::optional<std::string>& value) {
  return put_all({{name, value}});
}

Status KafkaKeyStore::put_all(const std::vector<Put>& puts) {
  std::lock_guard put_lock(put_mutex_);
  uintptr_t first = 0;
  {
    std::lock_guard lock(reports_->mutex);
    reports_->outcomes.clear();
    first = reports_->first_pending = reports_->next_token;
    reports_->next_token += puts.size();
  }
  for (size_t i = 0; i < puts.size(); ++i) {
    const auto& [name, value] = puts[i];
    auto err = producer_->produce(options_.topic, 0, RdKafka::Producer::RK_MSG_COPY,
                                  value ? const_cast<char*>(value->data()) : nullptr,
                                  value ? value->size() : 0, name.data(), name.size(), 0,
                                  reinterpret_cast<void*>(first + i));
    if (err != RdKafka::ERR_NO_ERROR) return kafka_status("appending", RdKafka::err2str(err));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (true) {
    producer_->poll(10);
    std::lock_guard lock(reports_->mutex);
    if (reports_->outcomes.size() == puts.size()) {
      for (const auto& [token, error] : reports_->outcomes)
        if (!error.empty()) return kafka_status("appending", error);
      return {};
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return kafka_status("appending", "no acknowledgement after 30 s");
  }
}

Result<DataKey> KafkaKeyStore::current_key(std::string_view subject) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = subject_keys_.find(std::string(subject));
        it != subject_keys_.end() && !it->second.empty()) {
      const std::string& id = it->second.back();
      return DataKey{id, secrets_.at(key_records::data_key_name(subject, id))};
    }
  }
  return new_key(subject);
}

Result<DataKey> KafkaKeyStore::new_key(std::string_view subject) {
  DataKey key{key_records::new_key_id(), random_bytes(kAeadKeyBytes)};
  const std::string name = key_records::data_key_name(subject, key.id);
  if (auto s = put(name, key_records::wrap(master_, name, key.secret)); !s.ok()) return s;
  std::lock_guard lock(mutex_);
  // In hand at once (the consumer reads it back too): the next record of the subject uses it.
  if (secrets_.insert_or_assign(name, key.secret).second)
    subject_keys_[std::string(subject)].push_back(key.id);
  return key;
}

Result<std::optional<std::string>> KafkaKeyStore::find(
    std::string_view subject, std::string_view key_id,
    std::chrono::steady_clock::time_point fresh_as_of) {
  const std::string name = key_records::data_key_name(subject, key_id);
  for (int attempt = 0; attempt < 2; ++attempt) {
    {
      std::lock_guard lock(mutex_);
      if (auto it = secrets_.find(name); it != secrets_.end()) return std::optional(it->second);
      if (auto it = unopened_.find(name); it != unopened_.end())
        return Status{Code::kUnavailable,
                      it->second + " (key " + name + ", topic " + options_.topic + ")"};
      if (last_sync_started_ >= fresh_as_of) return std::optional<std::string>();
    }
    if (auto s = sync(); !s.ok()) return s;
  }
  return std::optional<std::string>();
}

Status KafkaKeyStore::destroy(std::string_view subject, const std::vector<std::string>& key_ids) {
  bool destroyed = false;
  for (const auto& id : key_ids) {
    const std::string name = key_records::data_key_name(subject, id);
    if (auto s = put(name, std::nullopt); !s.ok()) return s;
    destroyed = true;
    std::lock_guard lock(mutex_);
    secrets_.erase(name);
    if (auto it = subject_keys_.find(std::string(subject)); it != subject_keys_.end()) {
      std::erase(it->second, id);
      if (it->second.empty()) subject_keys_.erase(it);
    }
  }
  std::lock_guard lock(mutex_);
  if (destroyed && !roll_due_)
    roll_due_ =
        std::chrono::steady_clock::now() + options_.erasure_window + std::chrono::seconds(1);
  return {};
}

Result<size_t> KafkaKeyStore::rewrap() {
  if (auto s = sync(); !s.ok()) return s;
  std::vector<Put> puts;
  {
    std::lock_guard lock(mutex_);
    rewrapping_ = true;
    tombstones_seen_.clear();
    puts.push_back({index_name_, key_records::wrap(master_, index_name_, index_key_)});
    for (const auto& [name, secret] : secrets_)
      puts.push_back({name, key_records::wrap(master_, name, secret)});
  }
  if (auto s = put_all(puts); !s.ok()) return s;
  // A key destroyed while its new wrapping was on its way would come back after its tombstone:
  // every key destroyed meanwhile is tombstoned again, after the new wrappings.
  if (auto s = sync(); !s.ok()) return s;
  std::vector<Put> again;
  {
    std::lock_guard lock(mutex_);
    rewrapping_ = false;
    for (const auto& name : tombstones_seen_) again.push_back({name, std::nullopt});
    tombstones_seen_.clear();
  }
  if (!again.empty())
    if (auto s = put_all(again); !s.ok()) return s;
  return puts.size();
}

}  // namespace contacts
