#include "http/probe.h"

#include <doctest/doctest.h>

namespace contacts {

namespace {

bool has(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

}  // namespace

TEST_CASE("HttpProbe counts requests into cumulative latency buckets and status classes") {
  HttpProbe probe("api", {"contacts.get"});
  probe.record("contacts.get", std::chrono::microseconds(300), 200);
  probe.record("contacts.get", std::chrono::milliseconds(3), 404);
  probe.record("contacts.get", std::chrono::seconds(10), 200);
  Exposition metrics;
  probe.add_to(metrics);
  std::string out = metrics.text();
  const std::string bucket =
      "contacts_http_request_duration_seconds_bucket{listener=\"api\",route=\"contacts.get\",";
  CHECK(has(out, bucket + "le=\"0.0005\"} 1\n"));
  CHECK(has(out, bucket + "le=\"0.005\"} 2\n"));
  CHECK(has(out, bucket + "le=\"5\"} 2\n"));
  CHECK(has(out, bucket + "le=\"+Inf\"} 3\n"));
  CHECK(has(out,
            "contacts_http_request_duration_seconds_count{listener=\"api\",route=\"contacts.get\"} "
            "3\n"));
  CHECK(has(out,
            "contacts_http_responses_total{listener=\"api\",route=\"contacts.get\",class=\"2xx\"} "
            "2\n"));
  CHECK(has(out,
            "contacts_http_responses_total{listener=\"api\",route=\"contacts.get\",class=\"4xx\"} "
            "1\n"));
}

TEST_CASE("HttpProbe keeps routes apart, counts an unknown one as other, and shows used ones") {
  HttpProbe probe("api", {"contacts.list", "contacts.delete"});
  probe.record("contacts.delete", std::chrono::milliseconds(40), 204);
  probe.record("/api/workspaces/1/contacts/7", std::chrono::milliseconds(1), 404);
  Exposition metrics;
  probe.add_to(metrics);
  std::string out = metrics.text();
  CHECK(has(out, "_count{listener=\"api\",route=\"contacts.delete\"} 1\n"));
  CHECK(has(out, "_count{listener=\"api\",route=\"other\"} 1\n"));
  CHECK_FALSE(has(out, "route=\"contacts.list\""));
  CHECK_FALSE(has(out, "/api/workspaces"));
}

TEST_CASE("Two listeners' probes add to one family each") {
  HttpProbe api("api", {});
  HttpProbe ingest("ingest", {});
  api.record("x", std::chrono::milliseconds(1), 200);
  ingest.record("x", std::chrono::milliseconds(1), 202);
  Exposition metrics;
  api.add_to(metrics);
  ingest.add_to(metrics);
  std::string out = metrics.text();
  CHECK(out.find("# TYPE contacts_http_responses_total counter") ==
        out.rfind("# TYPE contacts_http_responses_total counter"));
  // The ingest listener's series follow the API's within the family, before the next family.
  size_t ingest_bucket = out.find("_bucket{listener=\"ingest\"");
  CHECK(ingest_bucket < out.find("# TYPE contacts_http_responses_total"));
}

}  // namespace contacts
