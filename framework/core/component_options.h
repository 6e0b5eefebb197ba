// The options of registered components (a normalizer's, a gate's, a tokenizer's, a dataset's), each a config
// section of its own: model.clipped.alpha, model.bondarenko.init, data.sentencepiece.vocab_size. The options
// struct lives beside the component's class (with visit(v) like every config struct); ModelConfig and
// DataConfig carry one section per registered component of their scope through this type-erased holder, so
// adding a component with options never edits config.h.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "framework/core/config_fields.h"
#include "framework/core/registry.h"

namespace oasis {

class ComponentOptions {
 public:
  virtual ~ComponentOptions() = default;
  virtual std::unique_ptr<ComponentOptions> clone() const = 0;
  virtual void visit(ConfigReader& v) = 0;
  virtual void visit(ConfigWriter& v) = 0;
  virtual void visit(ConfigDescriber& v) = 0;
};

template <class T>
class OptionsOf final : public ComponentOptions {
 public:
  T value;
  std::unique_ptr<ComponentOptions> clone() const override { return std::make_unique<OptionsOf<T>>(*this); }
  void visit(ConfigReader& v) override { value.visit(v); }
  void visit(ConfigWriter& v) override { value.visit(v); }
  void visit(ConfigDescriber& v) override { value.visit(v); }
};

// Section name -> options, copied deeply (a copied Config owns its own options).
class ComponentSections {
 public:
  ComponentSections() = default;
  ComponentSections(const ComponentSections& other) { *this = other; }
  ComponentSections& operator=(const ComponentSections& other) {
    if (this == &other) return *this;
    sections_.clear();
    for (const auto& [name, options] : other.sections_) sections_.emplace(name, options->clone());
    return *this;
  }
  ComponentSections(ComponentSections&&) = default;
  ComponentSections& operator=(ComponentSections&&) = default;

  void add(const std::string& name, std::unique_ptr<ComponentOptions> options) {
    sections_.emplace(name, std::move(options));
  }

  // The options of section `name`, of the type its component registered.
  template <class T>
  T& get(const std::string& name) {
    return dynamic_cast<OptionsOf<T>&>(*sections_.at(name)).value;
  }
  template <class T>
  const T& get(const std::string& name) const {
    return dynamic_cast<const OptionsOf<T>&>(*sections_.at(name)).value;
  }

  // Each section through a config visitor (reader, writer, describer), as v.section(name, options).
  template <class V>
  void visit(V& v) {
    for (auto& [name, options] : sections_) {
      Adapter adapter{*options};
      v.section(name.c_str(), adapter);
    }
  }

 private:
  struct Adapter {
    ComponentOptions& options;
    template <class V>
    void visit(V& v) {
      options.visit(v);
    }
  };
  std::map<std::string, std::unique_ptr<ComponentOptions>> sections_;
};

// The options of section `name`, or their defaults when there are no sections (a component built outside a
// config, as in tests).
template <class T>
T options_or_default(const ComponentSections* sections, const std::string& name) {
  return sections ? sections->get<T>(name) : T{};
}

// Which config section holds a component's options: model.<name> (normalizers, gates) or data.<name>
// (datasets, tokenizers).
enum class OptionsScope { model, data };

// Section name -> a maker of its default options; components add theirs with register_options<T>(name, scope).
Registry<std::function<std::unique_ptr<ComponentOptions>()>>& component_option_registry(OptionsScope scope);

template <class T>
bool register_options(const std::string& section, OptionsScope scope = OptionsScope::model) {
  component_option_registry(scope).add(section, [] { return std::make_unique<OptionsOf<T>>(); });
  return true;
}

// Every registered component's default options in `scope` (the sections of ModelConfig or DataConfig).
ComponentSections registered_component_options(OptionsScope scope = OptionsScope::model);

}  // namespace oasis
