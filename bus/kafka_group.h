// KafkaGroup: membership of a Kafka consumer group on one topic (DESIGN.md section 9).
//
// The writer (`contacts project`) joins `contacts-projector` on the command topic only to be
// told which partitions it owns: it reads them itself, by offset, from where its views say
// (`pause_assigned`: the group's consumer fetches nothing), and commits offsets for lag
// reporting and for the next owner's quiet boundary. Webhook dispatchers join
// `contacts-webhooks` on the change topic and take its records through poll().
//
// The callbacks run inside poll(), on the thread that calls it: between two batches of the
// caller, never during one.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace contacts {

struct KafkaGroupOptions {
  std::string brokers;
  std::string group;
  std::string topic;
  std::string client_id = "contacts";
  // Assigned partitions are paused: the member reads them by other means.
  bool pause_assigned = false;
  // A member that stops heartbeating loses its partitions after this long.
  int session_timeout_ms = 6000;
};

struct KafkaGroupHandlers {
  std::function<void(const std::vector<int32_t>&)> assigned;
  // Before the partitions go to another member: the last chance to commit for them.
  std::function<void(const std::vector<int32_t>&)> revoking;
};

struct GroupMessage {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
};

class KafkaGroup {
 public:
  static Result<std::unique_ptr<KafkaGroup>> join(const KafkaGroupOptions& options,
                                                  KafkaGroupHandlers handlers);
  // Leaves the group (close()).
  ~KafkaGroup();
  // Leaves the group at once: the revoke handler runs (on this thread), and the partitions go
  // to the other members without waiting for the session to time out. Idempotent.
  void close();

  // Serves the group's callbacks and returns up to `max` fetched records (none while paused),
  // waiting at most `timeout_ms` for the first. Records fetched before a rebalance that
  // happens during the call are dropped: their partitions may belong to another member now.
  Result<std::vector<GroupMessage>> poll(int timeout_ms, size_t max);
  // Stops (or resumes) fetching the assigned partitions; membership is kept by poll().
  void pause(bool paused);
  // The group's committed next offsets of `partitions` (absent: none committed). An error
  // when any partition's could not be read.
  Result<std::map<int32_t, int64_t>> committed(const std::vector<int32_t>& partitions);
  // Commits the next offsets given, synchronously.
  Status commit(const std::vector<std::pair<int32_t, int64_t>>& next_offsets);
  // Partitions assigned to this member now.
  std::vector<int32_t> assignment() const { return assignment_; }

 private:
  class Rebalance;
  KafkaGroup() = default;
  KafkaGroupOptions options_;
  KafkaGroupHandlers handlers_;
  std::unique_ptr<Rebalance> rebalance_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::vector<int32_t> assignment_;
  uint64_t generation_ = 0;
  bool closed_ = false;
};

// "0,1,5", or "none": how partitions are logged.
std::string partition_list(const std::vector<int32_t>& partitions);

struct GroupOffset {
  int32_t partition = 0;
  int64_t committed = -1;  // -1: nothing committed
  int64_t end = 0;
};

// What `group` committed on `topic`, next to each partition's end: its lag.
Result<std::vector<GroupOffset>> group_offsets(const std::string& brokers, const std::string& group,
                                               const std::string& topic);

}  // namespace contacts
