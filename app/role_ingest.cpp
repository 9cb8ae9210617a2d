// contacts ingest: the ingest listener alone, appending to the log (Kafka in a deployment).
#include <iostream>

#include "app/node.h"
#include "core/console.h"

namespace contacts::app {

int run_node_ingest(const Flags& flags, const NodeConfig& config, const OpenedLog& log) {
  IngestParts ingest(log, flags, config);
  ingest.context.metrics_text = [&] {
    Exposition metrics;
    add_process_series(metrics, log);
    ingest.add_to(metrics);
    return metrics.text();
  };
  boost::asio::io_context ioc;
  HttpServer server(ioc, ingest.handler(), ingest.options);
  if (auto s = server.listen(config.ingest_host, config.ingest_port); !s.ok()) {
    std::cerr << "contacts ingest: " << s.message() << "\n";
    return 1;
  }
  print_line("contacts: ingest listening on http://" + config.ingest_host + ":" +
             std::to_string(server.port()) + " (" + describe_log(flags, log) + ")");
  run_until_signalled({{&server, &ioc}}, std::max(2LL, config.threads / 2));
  print_line("contacts: stopped");
  return 0;
}

}  // namespace contacts::app
