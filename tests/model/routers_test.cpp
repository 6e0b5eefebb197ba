// Residual routers (framework/model/routers.h): the registry's names and errors, and the parameters each
// router registers, by the names checkpoints store them under (a renamed or reordered parameter would no
// longer load older checkpoints). The AttnRes arithmetic itself is pinned by ModelZoo.FullAttnResMatchesAReferenceLoop
// and the PyTorch fixture (tests/model/pytorch_reference_test.cpp).
#include <gtest/gtest.h>

#include <regex>

#include <torch/torch.h>

#include "framework/core/errors.h"
#include "framework/model/presets.h"
#include "framework/model/routers.h"
#include "tests/test_util.h"

namespace oasis {
namespace {

std::vector<std::string> routing_parameters(const ModelConfig& c) {
  std::vector<std::string> names;
  for (const auto& p : build_model(c, 20)->named_parameters()) {
    const std::string& n = p.key();
    if (n.find("route") != std::string::npos || n.find("null") != std::string::npos) names.push_back(n);
  }
  return names;
}

TEST(Routers, TheRegistryNamesEachAndRefusesOthersWithTheList) {
  EXPECT_EQ(router_registry().names(), (std::vector<std::string>{"attnres", "standard"}));
  EXPECT_EQ(null_signal_names(), (std::vector<std::string>{"none", "oasis"}));
  try {
    make_router("highway", {});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown router 'highway'; valid: attnres, standard"), std::string::npos)
        << e.what();
  }
}

TEST(Routers, StandardRegistersNothing) {
  // Its model's parameters are exactly the embedding, the blocks' norms, attention and MLP, and the final norm.
  const std::regex plain(R"(embed\.weight|final_norm\.weight|blocks\.[0-9]+\.(attn_norm|mlp_norm|attn|mlp)\..+)");
  for (const auto& p : build_model(test::small_model("standard", 2, 2), 20)->named_parameters())
    EXPECT_TRUE(std::regex_match(p.key(), plain)) << p.key();
}

TEST(Routers, AttnResRegistersItsSitesUnderTheCheckpointNamesInOrder) {
  const std::vector<std::string> plain = {
      "blocks.0.route_mlp.query", "blocks.0.route_mlp.key_norm.weight", "blocks.1.route_attn.query",
      "blocks.1.route_attn.key_norm.weight", "blocks.1.route_mlp.query", "blocks.1.route_mlp.key_norm.weight",
      "final_route.query", "final_route.key_norm.weight"};
  EXPECT_EQ(routing_parameters(test::small_model("attnres", 2, 2)), plain);

  ModelConfig oasis = test::small_model("oasis", 2, 2);
  oasis.oasis.variant = "ab";
  oasis.oasis.per_head = true;
  const std::vector<std::string> full = {
      "blocks.0.null_head_weights", "blocks.0.route_attn.null_bias", "blocks.0.route_mlp.query",
      "blocks.0.route_mlp.null_scale", "blocks.0.route_mlp.null_bias", "blocks.0.route_mlp.null_source_penalty",
      "blocks.0.route_mlp.key_norm.weight", "blocks.1.null_head_weights", "blocks.1.route_attn.query",
      "blocks.1.route_attn.null_scale", "blocks.1.route_attn.null_bias", "blocks.1.route_attn.null_source_penalty",
      "blocks.1.route_attn.key_norm.weight", "blocks.1.route_mlp.query", "blocks.1.route_mlp.null_scale",
      "blocks.1.route_mlp.null_bias", "blocks.1.route_mlp.null_source_penalty", "blocks.1.route_mlp.key_norm.weight",
      "final_route.query", "final_route.null_source_penalty", "final_route.key_norm.weight"};
  EXPECT_EQ(routing_parameters(oasis), full);
}

TEST(Routers, ANullSignalTheRouterDoesNotCarryIsAConfigError) {
  ModelConfig c = test::small_model("standard", 2, 2);
  c.null_signal = "oasis";
  try {
    resolve_components(c);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("router standard does not carry the null signal oasis (it carries: none)"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace oasis
