// SPDX-License-Identifier: Apache-2.0
#include "podid/scraped_registry.h"

#include <prometheus/text_serializer.h>

namespace podid {

void ScrapedRegistry::on_scrape(std::function<void()> hook) {
  std::lock_guard lock{scrape_mutex_};
  hooks_.push_back(std::move(hook));
}

std::vector<prometheus::MetricFamily> ScrapedRegistry::Collect() const {
  std::lock_guard lock{scrape_mutex_};
  for (const auto& hook : hooks_) hook();
  return prometheus::Registry::Collect();
}

std::string ScrapedRegistry::serialize() const { return prometheus::TextSerializer().Serialize(Collect()); }

}  // namespace podid
