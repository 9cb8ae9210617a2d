#include "bus/kafka_group.h"

#include <algorithm>

#include "bus/kafka_log.h"
#include "core/log.h"

namespace contacts {

namespace {

constexpr int kCommitTimeoutMs = 10000;

std::vector<int32_t> ids_of(const std::vector<RdKafka::TopicPartition*>& partitions) {
  std::vector<int32_t> ids;
  for (const auto* tp : partitions) ids.push_back(tp->partition());
  return ids;
}

// Owns the TopicPartition objects librdkafka's C++ API hands out as raw pointers.
struct PartitionList {
  std::vector<RdKafka::TopicPartition*> items;
  ~PartitionList() { RdKafka::TopicPartition::destroy(items); }
};

}  // namespace

class KafkaGroup::Rebalance final : public RdKafka::RebalanceCb {
 public:
  explicit Rebalance(KafkaGroup& group) : group_(group) {}

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    auto ids = ids_of(partitions);
    ++group_.generation_;
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      // The handler first (it may read the committed offsets), then the assignment.
      if (group_.handlers_.assigned) group_.handlers_.assigned(ids);
      if (auto e = consumer->assign(partitions); e != RdKafka::ERR_NO_ERROR)
        log::warn("assign failed",
                  {{"group", group_.options_.group}, {"error", RdKafka::err2str(e)}});
      if (group_.options_.pause_assigned) consumer->pause(partitions);
      group_.assignment_ = ids;
    } else {
      if (group_.handlers_.revoking) group_.handlers_.revoking(ids);
      consumer->unassign();
      group_.assignment_.clear();
    }
  }

 private:
  KafkaGroup& group_;
};

Result<std::unique_ptr<KafkaGroup>> KafkaGroup::join(const KafkaGroupOptions& options,
                                                     KafkaGroupHandlers handlers) {
  std::unique_ptr<KafkaGroup> group(new KafkaGroup());
  group->options_ = options;
  group->handlers_ = std::move(handlers);
  group->rebalance_ = std::make_unique<Rebalance>(*group);
  auto conf = make_kafka_conf(
      {{"bootstrap.servers", options.brokers},
       {"client.id", options.client_id},
       {"group.id", options.group},
       {"log.connection.close", "false"},
       // Eager rebalancing: every partition is revoked, then assigned.
       {"partition.assignment.strategy", "range"},
       {"session.timeout.ms", std::to_string(options.session_timeout_ms)},
       {"heartbeat.interval.ms", std::to_string(std::max(500, options.session_timeout_ms / 3))},
       {"enable.auto.commit", "false"},
       {"enable.auto.offset.store", "false"},
       {"auto.offset.reset", "earliest"},
       {"fetch.wait.max.ms", "50"},
       {"enable.partition.eof", "false"}});
  if (!conf.ok()) return conf.status();
  std::string error;
  if ((*conf)->set("rebalance_cb", group->rebalance_.get(), error) != RdKafka::Conf::CONF_OK)
    return Status{Code::kInvalid, "Kafka rebalance_cb: " + error};
  group->consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), error));
  if (!group->consumer_)
    return Status{Code::kUnavailable, "Kafka consumer of group " + options.group + ": " + error};
  if (auto e = group->consumer_->subscribe({options.topic}); e != RdKafka::ERR_NO_ERROR)
    return kafka_error("Kafka subscribe to " + options.topic, e);
  return group;
}

KafkaGroup::~KafkaGroup() { close(); }

void KafkaGroup::close() {
  if (!consumer_ || closed_) return;
  closed_ = true;
  consumer_->close();
}

void KafkaGroup::pause(bool paused) {
  PartitionList list;
  for (int32_t p : assignment_)
    list.items.push_back(RdKafka::TopicPartition::create(options_.topic, p));
  if (list.items.empty()) return;
  if (paused)
    consumer_->pause(list.items);
  else
    consumer_->resume(list.items);
}

Result<std::vector<GroupMessage>> KafkaGroup::poll(int timeout_ms, size_t max) {
  std::vector<GroupMessage> out;
  if (closed_) return out;
  int wait = timeout_ms;
  uint64_t generation = generation_;
  // At least one consume: it is what serves the callbacks, even when no record is wanted.
  do {
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(wait));
    wait = 0;
    if (generation != generation_) {  // a rebalance ran inside consume()
      out.clear();
      generation = generation_;
    }
    if (!m || m->err() == RdKafka::ERR__TIMED_OUT) break;
    if (m->err() == RdKafka::ERR__PARTITION_EOF) continue;
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      // Transport errors are retried inside librdkafka; they are worth a line, not a failure.
      log::warn("consumer error", {{"group", options_.group}, {"error", m->errstr()}});
      break;
    }
    if (options_.pause_assigned) continue;  // fetched before the pause took hold
    GroupMessage g;
    g.partition = m->partition();
    g.offset = m->offset();
    if (m->key()) g.key = *m->key();
    g.value.assign(static_cast<const char*>(m->payload()), m->len());
    out.push_back(std::move(g));
  } while (out.size() < max);
  return out;
}

Result<std::map<int32_t, int64_t>> KafkaGroup::committed(const std::vector<int32_t>& partitions) {
  PartitionList list;
  for (int32_t p : partitions)
    list.items.push_back(RdKafka::TopicPartition::create(options_.topic, p));
  if (auto e = consumer_->committed(list.items, kCommitTimeoutMs); e != RdKafka::ERR_NO_ERROR)
    return kafka_error("Kafka committed offsets of " + options_.group, e);
  std::map<int32_t, int64_t> out;
  for (const auto* tp : list.items) {
    if (tp->err() != RdKafka::ERR_NO_ERROR)
      return kafka_error("Kafka committed offset of " + options_.group + " partition " +
                             std::to_string(tp->partition()),
                         tp->err());
    if (tp->offset() >= 0) out[tp->partition()] = tp->offset();
  }
  return out;
}

Status KafkaGroup::commit(const std::vector<std::pair<int32_t, int64_t>>& next_offsets) {
  if (next_offsets.empty()) return {};
  PartitionList list;
  for (const auto& [p, next] : next_offsets)
    list.items.push_back(RdKafka::TopicPartition::create(options_.topic, p, next));
  if (auto e = consumer_->commitSync(list.items); e != RdKafka::ERR_NO_ERROR)
    return kafka_error("Kafka commit of " + options_.group, e);
  return {};
}

std::string partition_list(const std::vector<int32_t>& partitions) {
  std::string out;
  for (int32_t p : partitions) out += (out.empty() ? "" : ",") + std::to_string(p);
  return out.empty() ? "none" : out;
}

Result<std::vector<GroupOffset>> group_offsets(const std::string& brokers, const std::string& group,
                                               const std::string& topic) {
  auto conf = make_kafka_conf(
      {{"bootstrap.servers", brokers}, {"group.id", group}, {"enable.auto.commit", "false"}});
  if (!conf.ok()) return conf.status();
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf->get(), error));
  if (!consumer) return Status{Code::kUnavailable, "Kafka consumer: " + error};
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(consumer.get(), topic, nullptr, error));
  RdKafka::Metadata* raw = nullptr;
  if (!handle ||
      consumer->metadata(false, handle.get(), &raw, kCommitTimeoutMs) != RdKafka::ERR_NO_ERROR ||
      !raw)
    return Status{Code::kUnavailable, "no metadata for topic " + topic};
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  PartitionList list;
  for (const auto* t : *metadata->topics())
    if (t->topic() == topic)
      for (const auto* p : *t->partitions())
        list.items.push_back(RdKafka::TopicPartition::create(topic, p->id()));
  if (list.items.empty()) return Status{Code::kNotFound, "topic " + topic + " has no partitions"};
  if (auto e = consumer->committed(list.items, kCommitTimeoutMs); e != RdKafka::ERR_NO_ERROR)
    return kafka_error("Kafka committed offsets of " + group, e);
  std::vector<GroupOffset> out;
  for (const auto* tp : list.items) {
    GroupOffset g;
    g.partition = tp->partition();
    g.committed = tp->offset() >= 0 ? tp->offset() : -1;
    int64_t low = 0;
    if (auto e =
            consumer->query_watermark_offsets(topic, g.partition, &low, &g.end, kCommitTimeoutMs);
        e != RdKafka::ERR_NO_ERROR)
      return kafka_error("Kafka end offset of " + topic, e);
    out.push_back(g);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.partition < b.partition; });
  consumer->close();
  return out;
}

}  // namespace contacts
