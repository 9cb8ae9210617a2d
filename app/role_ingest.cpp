// contacts ingest: the ingest listener alone, appending to the log (Kafka in a deployment).

#include "app/node.h"
#include "core/log.h"

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
    log::error(s.message(), {{"command", "ingest"}});
    return 1;
  }
  log::info("ingest listening on http://" + config.ingest_host + ":" +
            std::to_string(server.port()) + " (" + describe_log(flags, log) + ")");
  run_until_signalled({{&server, &ioc}}, std::max(2LL, config.threads / 2));
  log::info("stopped");
  return 0;
}

}  // namespace contacts::app
