// contacts webhooks: a webhook dispatcher on Kafka, a member of the group contacts-webhooks on
// contacts.changes (each change is delivered by one member). It folds the command topic quietly
// into views of its own, for the subscriptions and roles, and serves the API with deliveries.

#include "app/node.h"
#include "core/log.h"
#include "webhooks/kafka_change_source.h"

namespace contacts::app {

int run_node_webhooks(Flags& flags, const NodeConfig& config, const OpenedLog& log,
                      LiveFold& fold) {
  auto deliveries = DeliveryStore::open(webhooks_path(flags.get("data")));
  if (!deliveries.ok()) {
    log::error(deliveries.status().message(), {{"command", "webhooks"}});
    return 1;
  }
  fold.set_configure(
      [&](Projector& projector, ViewStore& views) { return stay_quiet(*log, views, projector); });
  // A change names the subscriptions that wanted it; they exist here once the local views have
  // folded the change's own position.
  const std::string prefix = flags.get("topic-prefix");
  auto changes = KafkaChangeSource::open({flags.get("brokers"), prefix + "contacts-webhooks",
                                          log.kafka()->changes_topic(), "contacts-webhooks"},
                                         [&fold, partitions = log->partitions()](int64_t position) {
                                           auto [p, offset] =
                                               position_from_id(position, partitions);
                                           return fold.applied(p).value > offset.value;
                                         });
  if (!changes.ok()) {
    log::error(changes.status().message(), {{"command", "webhooks"}});
    return 1;
  }
  Dispatcher dispatcher(fold.views(), **changes, **deliveries, config.hooks);
  dispatcher.start();
  if (auto s = fold.start(); !s.ok()) {
    log::error(s.message(), {{"command", "webhooks"}});
    return 1;
  }

  RoleParts parts;
  parts.deliveries = deliveries->get();
  parts.dispatcher = &dispatcher.stats();
  int rc = serve_http(Node::kWebhooks, flags, config, log, fold, parts);
  fold.stop();
  dispatcher.stop();  // in-flight attempts finish and are recorded
  changes->reset();   // leaves the dispatcher group
  if (rc == 0) log::info("stopped");
  return rc;
}

}  // namespace contacts::app
