// contacts serve: every part in one process, on the embedded log or Kafka. The projector folds
// every partition, queues the changes subscriptions want in the views' outbox, and wakes the
// webhook dispatcher, which takes them from there; the API and ingest listen beside it.
#include <memory>

#include "app/node.h"
#include "core/log.h"

namespace contacts::app {

namespace {

// Wakes the dispatcher when a batch committed changes (it takes them from the outbox).
class WakeDispatcher final : public ChangeSink {
 public:
  explicit WakeDispatcher(Dispatcher& dispatcher) : dispatcher_(dispatcher) {}
  void applied(const std::vector<Change>&) override { dispatcher_.notify(); }

 private:
  Dispatcher& dispatcher_;
};

}  // namespace

int run_node_serve(Flags& flags, const NodeConfig& config, const OpenedLog& log, LiveFold& fold) {
  auto deliveries = DeliveryStore::open(webhooks_path(flags.get("data")));
  if (!deliveries.ok()) {
    log::error(deliveries.status().message(), {{"command", "serve"}});
    return 1;
  }
  // Records that are not commands are kept (contacts.dlq on Kafka) for `contacts dlq`.
  KeptDeadLetters dead_letters(*log.dead_letters());
  OutboxSource outbox(fold.views());
  Dispatcher dispatcher(fold.views(), outbox, **deliveries, config.hooks);
  WakeDispatcher wake(dispatcher);
  fold.set_configure([&](Projector& projector, ViewStore&) {
    // The only writer: records another partitioner misplaced are forwarded to where they belong.
    projector.set_forward_misplaced(true);
    projector.set_dead_letter_sink(dead_letters);
    projector.set_change_sink(wake);
    return Status{};
  });
  dispatcher.start();
  if (auto s = fold.start(); !s.ok()) {
    log::error(s.message(), {{"command", "serve"}});
    return 1;
  }

  RoleParts parts;
  parts.deliveries = deliveries->get();
  parts.dispatcher = &dispatcher.stats();
  parts.ingest = true;
  int rc = serve_http(Node::kAll, flags, config, log, fold, parts);
  fold.stop();
  dispatcher.stop();  // in-flight attempts finish and are recorded
  if (rc == 0) log::info("stopped");
  return rc;
}

}  // namespace contacts::app
