// contacts api --replica: a read replica on Kafka. It folds the command topic into views of its
// own, quietly (no outbox, no dead letters, no forwarding of misplaced records: all the
// writer's; it folds the writer's forwarded copies), and serves the API from them.
#include <iostream>

#include "app/node.h"
#include "core/console.h"

namespace contacts::app {

int run_node_replica(Flags& flags, const NodeConfig& config, const OpenedLog& log,
                     ViewStore& views) {
  Projector projector(*log, views);
  if (auto s = stay_quiet(*log, views, projector); !s.ok()) {
    std::cerr << "contacts api: " << s.message() << "\n";
    return 1;
  }
  projector.start();
  int rc = serve_http(Node::kReplica, flags, config, log, views, projector, RoleParts{});
  projector.stop();
  if (rc == 0) print_line("contacts: stopped");
  return rc;
}

}  // namespace contacts::app
