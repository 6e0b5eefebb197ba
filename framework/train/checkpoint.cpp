#include "framework/train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/core/errors.h"
#include "framework/core/paths.h"
#include "framework/core/version.h"
#include "framework/train/optimizer.h"

namespace oasis {
namespace fs = std::filesystem;

fs::path checkpoint_dir(const fs::path& run_dir, int64_t step) {
  return run_dir / "checkpoints" / fmt::format("step_{:08d}", step);
}

namespace {

std::vector<std::pair<int64_t, fs::path>> complete_checkpoints(const fs::path& run_dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  const fs::path dir = run_dir / "checkpoints";
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 13 || name.rfind("step_", 0) != 0 || !fs::exists(entry.path() / "DONE")) continue;
    out.emplace_back(std::stoll(name.substr(5)), entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

void save_checkpoint(const fs::path& run_dir, const TrainState& state, torch::nn::Module& model,
                     torch::optim::Optimizer& optimizer, int64_t keep) {
  const fs::path final_dir = checkpoint_dir(run_dir, state.step);
  const fs::path tmp = final_dir.string() + fmt::format(".tmp.{}", ::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  {
    torch::serialize::OutputArchive archive;
    model.save(archive);
    archive.save_to((tmp / "model.pt").string());
  }
  {
    torch::serialize::OutputArchive archive;
    optimizer.save(archive);
    archive.save_to((tmp / "optimizer.pt").string());
  }
  torch::save(at::detail::getDefaultCPUGenerator().get_state(), (tmp / "rng.pt").string());
  const nlohmann::json meta = {{"step", state.step},
                               {"samples_consumed", state.samples_consumed},
                               {"tokens_seen", state.tokens_seen},
                               {"elapsed_s", state.elapsed_s},
                               {"last_loss", state.last_loss},
                               {"last_val_loss", state.last_val_loss},
                               {"optimizer", optimizer_name(optimizer)},
                               {"code_version", code_version()}};
  write_file_atomic(tmp / "state.json", meta.dump(2) + "\n");
  fs::remove_all(final_dir);  // a stale folder of the same step without DONE
  fs::rename(tmp, final_dir);
  fsync_dir(final_dir.parent_path());
  write_file_atomic(final_dir / "DONE", "");
  fsync_dir(final_dir);

  auto all = complete_checkpoints(run_dir);
  for (size_t i = 0; i + size_t(keep) < all.size(); ++i) fs::remove_all(all[i].second);
}

std::optional<fs::path> latest_checkpoint(const fs::path& run_dir) {
  auto all = complete_checkpoints(run_dir);
  if (all.empty()) return std::nullopt;
  return all.back().second;
}

TrainState load_checkpoint(const fs::path& dir, torch::nn::Module& model, torch::optim::Optimizer* optimizer) {
  TrainState state;
  try {
    const auto meta = nlohmann::json::parse(read_file(dir / "state.json"));
    state.step = meta.at("step").get<int64_t>();
    state.samples_consumed = meta.at("samples_consumed").get<int64_t>();
    state.tokens_seen = meta.at("tokens_seen").get<int64_t>();
    state.elapsed_s = meta.at("elapsed_s").get<double>();
    auto number = [&](const char* key) { return meta.at(key).is_number() ? meta.at(key).get<double>() : NAN; };
    state.last_loss = number("last_loss");  // NaN is stored as null
    state.last_val_loss = number("last_val_loss");
    {
      torch::serialize::InputArchive archive;
      archive.load_from((dir / "model.pt").string());
      model.load(archive);
    }
    if (optimizer) {
      torch::serialize::InputArchive archive;
      archive.load_from((dir / "optimizer.pt").string());
      optimizer->load(archive);
      torch::Tensor rng;
      torch::load(rng, (dir / "rng.pt").string());
      at::Generator generator = at::detail::getDefaultCPUGenerator();  // a handle to the global one
      generator.set_state(rng);
    }
  } catch (const RuntimeError&) {
    throw;
  } catch (const std::exception& e) {
    throw RuntimeError(fmt::format("checkpoint '{}' is unreadable or does not fit this model: {}", dir.string(),
                                   std::string(e.what()).substr(0, 400)));
  }
  return state;
}

}  // namespace oasis
