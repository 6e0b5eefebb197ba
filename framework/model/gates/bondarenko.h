// The gated attention of Bondarenko et al. (2023): pi_{t,h} = sigmoid(G_h(x_{t,h})) scales head h's output,
// G_h = Linear(d_head -> 1) on head h's slice of the normalized block input. Options: model.bondarenko.init,
// the gate's initial value pi0 (its bias starts at logit(pi0), its weights at 0).
#pragma once
#include "framework/core/config_fields.h"

namespace oasis {

struct BondarenkoOptions {
  double init = 0.25;

  template <class V>
  void visit(V& v) {
    v.field("init", init, "initial gate value pi0 (bias = logit(pi0))", between(1e-6, 1.0 - 1e-6));
  }
};

}  // namespace oasis
