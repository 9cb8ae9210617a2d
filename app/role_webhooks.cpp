// contacts webhooks: a webhook dispatcher on Kafka, a member of the group contacts-webhooks on
// contacts.changes (each change is delivered by one member). It folds the command topic quietly
// into views of its own, for the subscriptions and roles, and serves the API with deliveries.
#include <iostream>

#include "app/node.h"
#include "core/console.h"
#include "webhooks/kafka_change_source.h"

namespace contacts::app {

int run_node_webhooks(Flags& flags, const NodeConfig& config, const OpenedLog& log,
                      ViewStore& views) {
  auto deliveries = DeliveryStore::open(webhooks_path(flags.get("data")));
  if (!deliveries.ok()) {
    std::cerr << "contacts webhooks: " << deliveries.status().message() << "\n";
    return 1;
  }
  Projector projector(*log, views);
  if (auto s = stay_quiet(*log, views, projector); !s.ok()) {
    std::cerr << "contacts webhooks: " << s.message() << "\n";
    return 1;
  }
  // A change names the subscriptions that wanted it; they exist here once the local views have
  // folded the change's own position.
  const std::string prefix = flags.get("topic-prefix");
  auto changes =
      KafkaChangeSource::open({flags.get("brokers"), prefix + "contacts-webhooks",
                               log.kafka()->changes_topic(), "contacts-webhooks"},
                              [&projector, partitions = log->partitions()](int64_t position) {
                                auto [p, offset] = position_from_id(position, partitions);
                                return projector.applied(p).value > offset.value;
                              });
  if (!changes.ok()) {
    std::cerr << "contacts webhooks: " << changes.status().message() << "\n";
    return 1;
  }
  Dispatcher dispatcher(views, **changes, **deliveries, config.hooks);
  dispatcher.start();
  projector.start();

  RoleParts parts;
  parts.deliveries = deliveries->get();
  parts.dispatcher = &dispatcher.stats();
  int rc = serve_http(Node::kWebhooks, flags, config, log, views, projector, parts);
  projector.stop();
  dispatcher.stop();  // in-flight attempts finish and are recorded
  changes->reset();   // leaves the dispatcher group
  if (rc == 0) print_line("contacts: stopped");
  return rc;
}

}  // namespace contacts::app
