#include "http/probe.h"

#include <cstdio>

namespace contacts {

void HttpProbe::record(std::chrono::steady_clock::duration elapsed, unsigned status) {
  double seconds = std::chrono::duration<double>(elapsed).count();
  for (size_t i = 0; i < kBucketsSeconds.size(); ++i)
    if (seconds <= kBucketsSeconds[i]) buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  by_class_[std::min<size_t>(status / 100, by_class_.size() - 1)].fetch_add(
      1, std::memory_order_relaxed);
}

void HttpProbe::render(std::string& out) const {
  const std::string name = "contacts_http_request_duration_seconds";
  const std::string label = "listener=\"" + listener_ + "\"";
  char line[160];
  for (size_t i = 0; i < kBucketsSeconds.size(); ++i) {
    std::snprintf(line, sizeof line, "%s_bucket{%s,le=\"%g\"} %llu\n", name.c_str(), label.c_str(),
                  kBucketsSeconds[i], static_cast<unsigned long long>(buckets_[i].load()));
    out += line;
  }
  uint64_t count = count_.load();
  out += name + "_bucket{" + label + ",le=\"+Inf\"} " + std::to_string(count) + "\n";
  std::snprintf(line, sizeof line, "%s_sum{%s} %.6f\n", name.c_str(), label.c_str(),
                static_cast<double>(sum_micros_.load()) / 1e6);
  out += line;
  out += name + "_count{" + label + "} " + std::to_string(count) + "\n";
  for (size_t c = 1; c < by_class_.size(); ++c)
    out += "contacts_http_responses_total{" + label + ",class=\"" + std::to_string(c) + "xx\"} " +
           std::to_string(by_class_[c].load()) + "\n";
}

}  // namespace contacts
