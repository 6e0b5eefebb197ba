#include "framework/core/component_options.h"

namespace oasis {

Registry<std::function<std::unique_ptr<ComponentOptions>()>>& component_option_registry(OptionsScope scope) {
  static Registry<std::function<std::unique_ptr<ComponentOptions>()>> model("model component options section"),
      data("data component options section");
  return scope == OptionsScope::model ? model : data;
}

ComponentSections registered_component_options(OptionsScope scope) {
  ComponentSections sections;
  for (const auto& [name, make] : component_option_registry(scope).entries()) sections.add(name, make());
  return sections;
}

}  // namespace oasis
