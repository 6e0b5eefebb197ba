// How a process learns its rank: torchrun's variables, srun's, and the half-set environments that must
// fail with the variable named instead of waiting for peers that never come.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "framework/core/errors.h"
#include "framework/dist/launch_env.h"

namespace oasis {
namespace {

std::optional<LaunchEnv> parse(const std::map<std::string, std::string>& vars) {
  return launch_env_from([&vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

std::string error_of(const std::map<std::string, std::string>& vars) {
  try {
    parse(vars);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(LaunchEnv, NoVariablesOrAWorldOfOneIsASingleProcess) {
  EXPECT_FALSE(parse({}).has_value());
  EXPECT_FALSE(parse({{"WORLD_SIZE", "1"}, {"RANK", "0"}}).has_value());
  // An sbatch script's own environment (no srun step) is not a multi-process launch.
  EXPECT_FALSE(parse({{"SLURM_NTASKS", "4"}, {"SLURM_PROCID", "0"}, {"SLURM_JOB_ID", "7"}}).has_value());
}

TEST(LaunchEnv, TorchrunVariables) {
  const auto env = parse({{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                          {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29500"}, {"TORCHELASTIC_RUN_ID", "x"},
                          {"TORCHELASTIC_USE_AGENT_STORE", "True"}});
  ASSERT_TRUE(env.has_value());
  EXPECT_EQ(env->rank, 3);
  EXPECT_EQ(env->world_size, 4);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->local_world_size, 2);
  EXPECT_EQ(env->master_addr, "10.0.0.1");
  EXPECT_EQ(env->master_port, 29500);
  EXPECT_EQ(env->launcher, "torchrun");
  EXPECT_TRUE(env->launcher_hosts_store);
  // Exported by hand: rank 0 hosts the store.
  const auto by_hand = parse({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1234"}});
  EXPECT_EQ(by_hand->launcher, "environment");
  EXPECT_FALSE(by_hand->launcher_hosts_store);
}

TEST(LaunchEnv, SrunVariables) {
  const auto env = parse({{"SLURM_STEP_ID", "0"}, {"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_PROCID", "1"},
                          {"SLURM_LOCALID", "1"}, {"SLURM_STEP_TASKS_PER_NODE", "2"}, {"SLURM_STEP_NUM_NODES", "1"},
                          {"SLURM_JOB_ID", "41"}});
  ASSERT_TRUE(env.has_value());
  EXPECT_EQ(env->launcher, "slurm");
  EXPECT_EQ(env->rank, 1);
  EXPECT_EQ(env->world_size, 2);
  EXPECT_EQ(env->local_world_size, 2);
  EXPECT_EQ(env->master_addr, "127.0.0.1");  // one node
  EXPECT_EQ(env->master_port, 20041);         // from the job id
}

TEST(LaunchEnv, HalfSetEnvironmentsNameTheVariable) {
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "0"}}).find("MASTER_ADDR is not set"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "h"}}).find("MASTER_PORT is not set"),
            std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}}).find("RANK is not set"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "2"}}).find("RANK='2', expected an integer in [0, 1]"),
            std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "two"}, {"RANK", "0"}}).find("WORLD_SIZE='two'"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "1"}}).find("WORLD_SIZE is not"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})
                .find("MASTER_PORT='70000'"),
            std::string::npos);
}

}  // namespace
}  // namespace oasis
