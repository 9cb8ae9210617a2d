// contacts project: the writer on Kafka. A member of the group contacts-projector, it folds
// only the partitions the group assigns, each from the offset its own views stored and quietly
// up to the offset the group committed (the previous owner published those changes), queues
// every change in its outbox and publishes it on contacts.changes (ChangePublisher), and serves
// the API for the workspaces it holds.
#include <memory>
#include <thread>

#include "app/node.h"
#include "bus/kafka_group.h"
#include "core/log.h"
#include "projector/change_publisher.h"

namespace contacts::app {

namespace {

// The writer's membership of its group: partitions move between members, and with them what
// the live projector folds and what its publisher commits.
class WriterGroup {
 public:
  WriterGroup(LiveFold& fold, ChangePublisher& publisher) : fold_(fold), publisher_(publisher) {}

  Status join(const Flags& flags, const KafkaLog& kafka) {
    KafkaGroupHandlers handlers;
    handlers.assigned = [this](const std::vector<int32_t>& partitions) { assigned(partitions); };
    handlers.revoking = [this](const std::vector<int32_t>& partitions) { revoking(partitions); };
    auto group =
        KafkaGroup::join({flags.get("brokers"), flags.get("topic-prefix") + "contacts-projector",
                          kafka.commands_topic(), "contacts-project", /*pause_assigned=*/true},
                         std::move(handlers));
    if (!group.ok()) return group.status();
    group_ = std::move(*group);
    return {};
  }
  // Membership is served between the live projector's steps, on its thread (each projector a
  // rebuild swaps in gets this again: LiveFold's configure).
  void serve_between_steps(Projector& projector) {
    projector.between_steps([this] {
      if (auto polled = group_->poll(0, 0); !polled.ok())
        log::warn(polled.status().message(), {{"command", "project"}});
    });
  }
  Status commit(const std::vector<std::pair<int32_t, int64_t>>& offsets) {
    return group_->commit(offsets);
  }
  // Leaves the group: the partitions move at once.
  void leave() {
    if (group_) group_->close();
    group_.reset();
  }

 private:
  void assigned(const std::vector<int32_t>& partitions) {
    auto committed = group_->committed(partitions);
    for (int attempt = 1; attempt < 5 && !committed.ok();
         ++attempt) {  // e.g. the coordinator is loading
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      committed = group_->committed(partitions);
    }
    if (!committed.ok())
      log::warn(
          committed.status().message() + " (changes of these partitions may be published again)",
          {{"command", "project"}});
    for (int32_t p : partitions) {
      int64_t quiet = committed.ok() && committed->count(p) ? committed->at(p) : 0;
      fold_.projector()->set_quiet_before(p, quiet);
      publisher_.assigned(p, quiet);
    }
    fold_.projector()->set_owned(partitions, true);
    log::info("project: assigned partitions " + partition_list(partitions));
  }
  // Between two batches: publish what they applied and commit, then let them go.
  void revoking(const std::vector<int32_t>& partitions) {
    if (auto s = publisher_.flush(); !s.ok()) log::warn(s.message(), {{"command", "project"}});
    fold_.projector()->set_owned(partitions, false);
    log::info("project: revoked partitions " + partition_list(partitions));
  }

  LiveFold& fold_;
  ChangePublisher& publisher_;
  std::unique_ptr<KafkaGroup> group_;
};

std::vector<int32_t> every_partition(const Log& log) {
  std::vector<int32_t> all;
  for (int32_t p = 0; p < log.partitions(); ++p) all.push_back(p);
  return all;
}

}  // namespace

int run_node_writer(Flags& flags, const NodeConfig& config, const OpenedLog& log, LiveFold& fold) {
  KafkaLog& kafka = *log.kafka();  // parse_node_flags required --brokers
  KeptDeadLetters dead_letters(kafka);
  std::unique_ptr<WriterGroup> group;
  ChangePublisher publisher(
      fold.views(), kafka,
      [&fold] {
        ChangePublisher::Offsets applied;
        if (auto projector = fold.projector())
          for (int32_t p : projector->owned())
            applied.emplace_back(p, projector->applied(Partition(p)).value);
        return applied;
      },
      [&group](const auto& offsets) { return group->commit(offsets); });
  group = std::make_unique<WriterGroup>(fold, publisher);
  // Nothing is folded until the group assigns partitions (a rebuild's projector takes over the
  // live one's: LiveFold).
  fold.projector()->set_owned(every_partition(*log), false);
  if (auto s = group->join(flags, kafka); !s.ok()) {
    log::error(s.message(), {{"command", "project"}});
    return 1;
  }
  fold.set_configure([&](Projector& projector, ViewStore&) {
    projector.set_dead_letter_sink(dead_letters);
    projector.set_change_scope(ChangeScope::kAll);
    // Each writer forwards the misplaced records of the partitions it owns.
    projector.set_forward_misplaced(true);
    projector.set_change_sink(publisher);
    group->serve_between_steps(projector);
    return Status{};
  });
  publisher.start();
  if (auto s = fold.start(); !s.ok()) {
    log::error(s.message(), {{"command", "project"}});
    return 1;
  }

  RoleParts parts;
  parts.holds = [&fold, partitions = log->partitions()](WorkspaceId ws) {
    return fold.owns(partition_for(std::to_string(ws.value), partitions));
  };
  parts.metrics = [&publisher](Exposition& metrics) { publisher.add_to(metrics); };
  int rc = serve_http(Node::kWriter, flags, config, log, fold, parts);
  fold.stop();
  publisher.stop();  // publishes what is left and commits
  group->leave();
  if (rc == 0) log::info("stopped");
  return rc;
}

}  // namespace contacts::app
