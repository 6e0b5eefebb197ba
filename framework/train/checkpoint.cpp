#include "framework/train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "framework/core/errors.h"
#include "framework/core/json_file.h"
#include "framework/core/file_digest.h"
#include "framework/core/log.h"
#include "framework/core/paths.h"
#include "framework/core/version.h"
#include "framework/train/optimizer.h"

namespace oasis {
namespace fs = std::filesystem;

fs::path checkpoint_dir(const fs::path& run_dir, int64_t step) {
  return run_dir / "checkpoints" / fmt::format("step_{:08d}", step);
}

namespace {

const char* const kCheckpointFiles[] = {"model.pt", "optimizer.pt", "rng.pt"};

bool all_digits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

// Complete checkpoints (with DONE), oldest first. Anything else under checkpoints/ that looks like a step
// folder but is not one is named and ignored.
std::vector<std::pair<int64_t, fs::path>> complete_checkpoints(const fs::path& run_dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  const fs::path dir = run_dir / "checkpoints";
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("step_", 0) != 0 || name.find(".tmp.") != std::string::npos) continue;
    if (name.size() != 13 || !all_digits(name.substr(5)) || !entry.is_directory()) {
      log_line(fmt::format("warning: ignoring '{}': not a checkpoint folder (expected step_ and 8 digits)",
                           entry.path().string()));
      continue;
    }
    if (!fs::exists(entry.path() / "DONE")) continue;
    out.emplace_back(std::stoll(name.substr(5)), entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string shape_text(const at::Tensor& t) { return fmt::format("[{}]", fmt::join(t.sizes(), ", ")); }

// The model's tensors (parameters, buffers, submodules, recursively as Module::save writes them) against
// the archive's: the first missing, extra or differently shaped/typed tensor is an error.
void check_archive_fits(const torch::nn::Module& module, torch::serialize::InputArchive& archive,
                        const std::string& prefix, const fs::path& file) {
  std::set<std::string> expected;
  auto mismatch = [&](const std::string& what) {
    return RuntimeError(fmt::format("checkpoint '{}' does not fit this model: {}", file.string(), what));
  };
  auto check = [&](const std::string& name, const at::Tensor& mine, bool is_buffer) {
    expected.insert(name);
    at::Tensor saved;
    if (!archive.try_read(name, saved, is_buffer))
      throw mismatch(fmt::format("it has no tensor '{}{}' (shape {} in the model)", prefix, name, shape_text(mine)));
    if (!saved.sizes().equals(mine.sizes()) || saved.scalar_type() != mine.scalar_type())
      throw mismatch(fmt::format("tensor '{}{}' is {} {} in the checkpoint, {} {} in the model", prefix, name,
                                 c10::toString(saved.scalar_type()), shape_text(saved),
                                 c10::toString(mine.scalar_type()), shape_text(mine)));
  };
  for (const auto& p : module.named_parameters(/*recurse=*/false)) check(p.key(), p.value(), false);
  for (const auto& b : module.named_buffers(/*recurse=*/false)) check(b.key(), b.value(), true);
  for (const auto& child : module.named_children()) {
    expected.insert(child.key());
    torch::serialize::InputArchive child_archive;
    if (!archive.try_read(child.key(), child_archive))
      throw mismatch(fmt::format("it has no submodule '{}{}'", prefix, child.key()));
    check_archive_fits(*child.value(), child_archive, prefix + child.key() + ".", file);
  }
  for (const auto& key : archive.keys())
    if (!expected.count(key)) throw mismatch(fmt::format("it has '{}{}', which the model lacks", prefix, key));
}

std::string message_of(const std::exception& e) { return message_without_backtrace(e).substr(0, 400); }

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
  nlohmann::json files = nlohmann::json::object();
  for (const char* name : kCheckpointFiles) {
    const FileDigest d = digest_file(tmp / name);
    files[name] = {{"bytes", d.bytes}, {"sha256", d.sha256}};
  }
  const nlohmann::json meta = {{"step", state.step},
                               {"samples_consumed", state.samples_consumed},
                               {"tokens_seen", state.tokens_seen},
                               {"elapsed_s", state.elapsed_s},
                               {"last_loss", state.last_loss},
                               {"last_val_loss", state.last_val_loss},
                               {"optimizer", optimizer_name(optimizer)},
                               {"code_version", code_version()},
                               {"files", files}};
  write_file_atomic(tmp / "state.json", meta.dump(2) + "\n");
  fs::remove_all(final_dir);  // a stale folder of the same step without DONE
  fs::rename(tmp, final_dir);
  fsync_dir(final_dir.parent_path());
  write_file_atomic(final_dir / "DONE", "");
  fsync_dir(final_dir);

  auto all = complete_checkpoints(run_dir);
  for (size_t i = 0; i + size_t(keep) < all.size(); ++i) fs::remove_all(all[i].second);
}

std::optional<std::string> checkpoint_damage(const fs::path& dir) {
  nlohmann::json meta;
  try {
    meta = read_json_file(dir / "state.json");
  } catch (const std::exception& e) {
    return fmt::format("state.json is unreadable: {}", message_of(e));
  }
  if (!meta.is_object()) return std::string("state.json is not a JSON object");
  if (!meta.contains("files")) return std::nullopt;  // written before checksums were recorded
  for (const char* name : kCheckpointFiles) {
    const auto& record = meta["files"][name];
    if (!record.is_object() || !record["bytes"].is_number_integer() || !record["sha256"].is_string())
      return fmt::format("state.json has no size and SHA-256 for {}", name);
    if (!fs::is_regular_file(dir / name)) return fmt::format("{} is missing", name);
    const FileDigest d = digest_file(dir / name);
    if (d.bytes != record["bytes"].get<int64_t>())
      return fmt::format("{} has {} bytes, state.json recorded {}", name, d.bytes, record["bytes"].get<int64_t>());
    if (d.sha256 != record["sha256"].get<std::string>())
      return fmt::format("{}'s SHA-256 is {}, state.json recorded {}", name, d.sha256, record["sha256"].get<std::string>());
  }
  return std::nullopt;
}

std::optional<fs::path> newest_complete_checkpoint(const fs::path& run_dir) {
  const auto all = complete_checkpoints(run_dir);
  if (all.empty()) return std::nullopt;
  return all.back().second;
}

std::optional<fs::path> latest_checkpoint(const fs::path& run_dir) {
  auto all = complete_checkpoints(run_dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const auto damage = checkpoint_damage(it->second);
    if (!damage) return it->second;
    log_line(fmt::format("warning: skipping damaged checkpoint '{}': {}", it->second.string(), *damage));
  }
  return std::nullopt;
}

TrainState load_checkpoint(const fs::path& dir, torch::nn::Module& model, torch::optim::Optimizer* optimizer) {
  TrainState state;
  try {
    const auto meta = read_json_file(dir / "state.json");
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
      check_archive_fits(model, archive, "", dir / "model.pt");
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
    throw RuntimeError(fmt::format("checkpoint '{}' is unreadable: {}", dir.string(), message_of(e)));
  }
  return state;
}

}  // namespace oasis
