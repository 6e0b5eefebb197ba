#include "framework/core/component_options.h"

namespace oasis {

Registry<std::function<std::unique_ptr<ComponentOptions>()>>& component_option_registry() {
  static Registry<std::function<std::unique_ptr<ComponentOptions>()>> registry("component options section");
  return registry;
}

ComponentSections registered_component_options() {
  ComponentSections sections;
  for (const auto& [name, make] : component_option_registry().entries()) sections.add(name, make());
  return sections;
}

}  // namespace oasis
