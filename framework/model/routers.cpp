#include "framework/model/routers.h"

#include <set>

namespace oasis {

Registry<RouterEntry>& router_registry() {
  static Registry<RouterEntry> registry("router");
  return registry;
}

std::vector<std::string> router_names() { return router_registry().names(); }

std::vector<std::string> null_signal_names() {
  std::set<std::string> names = {"none"};
  for (const auto& [name, entry] : router_registry().entries()) names.insert(entry.null_signals.begin(), entry.null_signals.end());
  return {names.begin(), names.end()};
}

std::unique_ptr<ResidualRouter> make_router(const std::string& name, const RouterContext& context) {
  return router_registry().get(name).make(context);
}

}  // namespace oasis
