// contacts api --replica: a read replica on Kafka. It folds the command topic into views of its
// own, quietly (no outbox, no dead letters, no forwarding of misplaced records: all the
// writer's; it folds the writer's forwarded copies), and serves the API from them.

#include "app/node.h"
#include "core/log.h"

namespace contacts::app {

int run_node_replica(Flags& flags, const NodeConfig& config, const OpenedLog& log, LiveFold& fold) {
  fold.set_configure(
      [&](Projector& projector, ViewStore& views) { return stay_quiet(*log, views, projector); });
  if (auto s = fold.start(); !s.ok()) {
    log::error(s.message(), {{"command", "api"}});
    return 1;
  }
  int rc = serve_http(Node::kReplica, flags, config, log, fold, RoleParts{});
  fold.stop();
  if (rc == 0) log::info("stopped");
  return rc;
}

}  // namespace contacts::app
