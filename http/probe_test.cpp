#include "http/probe.h"

#include <doctest/doctest.h>

namespace contacts {

TEST_CASE("HttpProbe counts requests into cumulative latency buckets and status classes") {
  HttpProbe probe("api");
  probe.record(std::chrono::microseconds(300), 200);
  probe.record(std::chrono::milliseconds(3), 404);
  probe.record(std::chrono::seconds(10), 200);
  std::string out;
  probe.render(out);
  CHECK(out.find(
            "contacts_http_request_duration_seconds_bucket{listener=\"api\",le=\"0.0005\"} 1\n") !=
        std::string::npos);
  CHECK(out.find(
            "contacts_http_request_duration_seconds_bucket{listener=\"api\",le=\"0.005\"} 2\n") !=
        std::string::npos);
  CHECK(out.find("contacts_http_request_duration_seconds_bucket{listener=\"api\",le=\"5\"} 2\n") !=
        std::string::npos);
  CHECK(
      out.find("contacts_http_request_duration_seconds_bucket{listener=\"api\",le=\"+Inf\"} 3\n") !=
      std::string::npos);
  CHECK(out.find("contacts_http_request_duration_seconds_count{listener=\"api\"} 3\n") !=
        std::string::npos);
  CHECK(out.find("contacts_http_responses_total{listener=\"api\",class=\"2xx\"} 2\n") !=
        std::string::npos);
  CHECK(out.find("contacts_http_responses_total{listener=\"api\",class=\"4xx\"} 1\n") !=
        std::string::npos);
}

}  // namespace contacts
