#include "framework/model/gates.h"

namespace oasis {

Registry<GateEntry>& gate_registry() {
  static Registry<GateEntry> registry("gate");
  return registry;
}

std::vector<std::string> gate_names() { return gate_registry().names(); }

std::shared_ptr<AttentionGate> make_gate(const std::string& name, const GateContext& context) {
  return gate_registry().get(name).make(context);
}

namespace {
const bool none_registered =
    gate_registry().add("none", {"no gate", [](const GateContext&) { return std::shared_ptr<AttentionGate>(); }});
}  // namespace

}  // namespace oasis
