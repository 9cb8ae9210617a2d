#include "http/probe.h"

#include <algorithm>

namespace contacts {

HttpProbe::HttpProbe(std::string listener, std::vector<std::string_view> routes)
    : listener_(std::move(listener)), routes_(std::move(routes)) {
  routes_.push_back(kOtherRoute);
  series_ = std::make_unique<Series[]>(routes_.size());
}

void HttpProbe::record(std::string_view route, std::chrono::steady_clock::duration elapsed,
                       unsigned status) {
  size_t index =
      static_cast<size_t>(std::find(routes_.begin(), routes_.end() - 1, route) - routes_.begin());
  Series& s = series_[index];
  double seconds = std::chrono::duration<double>(elapsed).count();
  for (size_t i = 0; i < kBucketsSeconds.size(); ++i)
    if (seconds <= kBucketsSeconds[i]) s.buckets[i].fetch_add(1, std::memory_order_relaxed);
  s.count.fetch_add(1, std::memory_order_relaxed);
  s.sum_micros.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  s.by_class[std::min<size_t>(status / 100, s.by_class.size() - 1)].fetch_add(
      1, std::memory_order_relaxed);
}

void HttpProbe::add_to(Exposition& metrics) const {
  constexpr std::string_view kDuration = "contacts_http_request_duration_seconds";
  constexpr std::string_view kDurationHelp =
      "Time from a parsed request to its response, by route.";
  constexpr std::string_view kResponses = "contacts_http_responses_total";
  constexpr std::string_view kResponsesHelp = "Responses by route and status class.";
  metrics.declare(kDuration, MetricType::kHistogram, kDurationHelp);
  metrics.declare(kResponses, MetricType::kCounter, kResponsesHelp);
  for (size_t r = 0; r < routes_.size(); ++r) {
    const Series& s = series_[r];
    // Read the count first: a request recorded meanwhile may show in the buckets, not in it.
    uint64_t count = s.count.load();
    if (count == 0) continue;
    std::array<uint64_t, kBucketsSeconds.size()> buckets;
    for (size_t i = 0; i < buckets.size(); ++i) buckets[i] = std::min(s.buckets[i].load(), count);
    // A request recorded while they were read may show in a wider bucket only: kept cumulative.
    for (size_t i = buckets.size() - 1; i > 0; --i)
      buckets[i - 1] = std::min(buckets[i - 1], buckets[i]);
    MetricLabels labels = {{"listener", listener_}, {"route", std::string(routes_[r])}};
    metrics.histogram(kDuration, kDurationHelp, labels, kBucketsSeconds, buckets,
                      static_cast<double>(s.sum_micros.load()) / 1e6, count);
    labels.emplace_back("class", "");
    for (size_t c = 1; c < s.by_class.size(); ++c) {
      labels.back().second = std::to_string(c) + "xx";
      metrics.counter(kResponses, kResponsesHelp, static_cast<double>(s.by_class[c].load()),
                      labels);
    }
  }
}

}  // namespace contacts
